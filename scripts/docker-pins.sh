#!/usr/bin/env bash
# Writes docker/package-versions.txt: every Swift package the build resolved (direct and
# transitive), with its version, from Package.resolved. The Docker image pins each to
# that version (docker/Dockerfile). Run it after changing a dependency; a test
# (DockerPinsTests) fails while the list and Package.resolved disagree.
#
# Why not ship Package.resolved itself: this project's machines resolve against local
# mirrors of the packages whose commit ids are not GitHub's, so their pins would not
# resolve in the image. Versions (tags) are the same on both.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f Package.resolved ] || swift package resolve >&2
python3 - <<'PY' > docker/package-versions.txt
import json
pins = json.load(open("Package.resolved"))["pins"]
print("# identity version: written by scripts/docker-pins.sh from Package.resolved; read by docker/Dockerfile")
for pin in sorted(pins, key=lambda p: p["identity"]):
    print(pin["identity"], pin["state"]["version"])
PY
echo "docker/package-versions.txt: $(grep -vc '^#' docker/package-versions.txt) packages"
