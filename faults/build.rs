//! Builds the power-cut layer (shim/powercut.c) as a shared object, which
//! the binary carries and preloads into the gateway it tests.

fn main() {
    let src = "shim/powercut.c";
    println!("cargo:rerun-if-changed={src}");
    let out =
        std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("libpowercut.so");
    let status = cc::Build::new()
        .get_compiler()
        .to_command()
        .args([
            "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror", "-o",
        ])
        .arg(&out)
        .arg(src)
        .args(["-ldl", "-lpthread"])
        .status()
        .expect("run the C compiler");
    assert!(status.success(), "building {src} failed");
}
