//! `gridsense user add|token|list` on a real SQLite file: the password comes
//! from standard input or a file and never shows in the output, a weak one
//! is refused, and the stored hash verifies it.

use std::io::Write as _;
use std::process::{Command, Stdio};

use gateway::store::Store;

fn gridsense(args: &[&str], stdin: &str) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gridsense"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("RUST_LOG", "trace")
        .spawn()
        .expect("run");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn the_first_admin_is_made_from_stdin_and_the_password_is_never_printed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("gw.db");
    let path = db.to_str().expect("utf8");
    let (code, text) = gridsense(&["user", "list", "--db", path], "");
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("no users"), "no default credentials: {text}");

    let secret = "correct horse battery";
    let (code, text) = gridsense(
        &["user", "add", "li", "--role", "admin", "--db", path],
        &format!("{secret}\n"),
    );
    assert_eq!(code, 0, "{text}");
    assert!(
        !text.contains(secret),
        "the password is not printed or logged: {text}"
    );

    let (code, text) = gridsense(
        &["user", "add", "wang", "--role", "operator", "--db", path],
        "short\n",
    );
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("at least 10"), "{text}");
    let (code, text) = gridsense(
        &["user", "add", "wang", "--role", "root", "--db", path],
        "long enough pass\n",
    );
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("role"), "{text}");

    let pw = dir.path().join("zhao.pw");
    std::fs::write(&pw, "from a file, ok\n").expect("write");
    let (code, text) = gridsense(
        &[
            "user",
            "add",
            "zhao",
            "--role",
            "installer",
            "--password-file",
            pw.to_str().expect("utf8"),
            "--db",
            path,
        ],
        "",
    );
    assert_eq!(code, 0, "{text}");

    let (code, text) = gridsense(&["user", "token", "li", "--db", path], "");
    assert_eq!(code, 0, "{text}");
    let token = text
        .lines()
        .find(|l| l.starts_with("gst_"))
        .expect("the token, once")
        .to_string();
    let (code, _) = gridsense(&["user", "token", "nobody", "--db", path], "");
    assert_eq!(code, 2, "no token for an unknown user");

    let (_, text) = gridsense(&["user", "list", "--db", path], "");
    assert!(
        text.contains("li\tadmin") && text.contains("zhao\tinstaller"),
        "{text}"
    );
    assert!(
        !text.contains("wang"),
        "refused users are not stored: {text}"
    );

    let store = Store::open_read_only(&db).expect("open");
    let li = store.api_user("li").expect("read").expect("li");
    assert!(gateway::auth::verify_password(&li.hash, secret));
    let zhao = store.api_user("zhao").expect("read").expect("zhao");
    assert!(gateway::auth::verify_password(
        &zhao.hash,
        "from a file, ok"
    ));
    let by_token = store
        .api_token_user(&gateway::auth::token_hash(&token))
        .expect("read")
        .expect("the token's user");
    assert_eq!(by_token.name, "li");
    let mut audit = Vec::new();
    store.export_audit(&mut audit).expect("export");
    let audit = String::from_utf8(audit).expect("utf8");
    assert!(
        audit.contains("user.set") && audit.contains("token.added"),
        "{audit}"
    );
    assert!(!audit.contains(secret) && !audit.contains("argon2") && !audit.contains(&token));
}
