#!/usr/bin/env bash
# Writes the software bill of materials of the released gateway, CycloneDX
# 1.5 JSON, one per .deb architecture, into OUT_DIR (the .deb's folder):
#   gridsense_VERSION_amd64.cdx.json, gridsense_VERSION_arm64.cdx.json
# Every crate the `gridsense` binary links (build-time crates left out),
# with version, licence and package URL; made by cargo-cyclonedx from the
# locked dependency graph, offline. Usage: scripts/sbom.sh OUT_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: scripts/sbom.sh OUT_DIR}"
mkdir -p "$out"
version=$(cargo metadata --format-version 1 --no-deps --offline --locked \
    | python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "gridsense-gateway"))')
for pair in x86_64-unknown-linux-gnu:amd64 aarch64-unknown-linux-gnu:arm64; do
    target=${pair%%:*}
    arch=${pair##*:}
    # cargo-cyclonedx writes one file beside every workspace member's
    # manifest; the gateway's is the one kept, the others removed.
    cargo cyclonedx --manifest-path gateway/Cargo.toml --format json --spec-version 1.5 \
        --no-build-deps --target "$target" --override-filename gridsense-sbom >/dev/null
    mv gateway/gridsense-sbom.json "$out/gridsense_${version}_${arch}.cdx.json"
    find . -name gridsense-sbom.json -not -path './target/*' -delete
    python3 - "$out/gridsense_${version}_${arch}.cdx.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["bomFormat"] == "CycloneDX" and d["metadata"]["component"]["name"] == "gridsense-gateway", d["metadata"]
names = {c["name"] for c in d["components"]}
for must in ("rumqttd", "rusqlite", "rustls", "tokio"):
    assert must in names, f"{must} missing from the SBOM"
unlicensed = [c["name"] for c in d["components"] if not c.get("licenses")]
print(f"{sys.argv[1]}: {len(d['components'])} components, {len(unlicensed)} without a licence {unlicensed}")
PY
done
