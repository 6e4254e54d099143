#!/usr/bin/env bash
# Refresh the Swagger UI files that /docs serves (functions/api/static/swagger-ui/) from npm's swagger-ui-dist,
# so the docs page needs no CDN. npm pack checks the tarball against the registry's integrity hash.
# Usage: bash scripts/vendor_swagger_ui.sh 5.35.0      (`npm view swagger-ui-dist version` shows the newest)
set -euo pipefail
version="${1:?usage: bash scripts/vendor_swagger_ui.sh VERSION}"
cd "$(dirname "$0")/.."
dest=functions/api/static/swagger-ui
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "swagger-ui-dist@$version" >/dev/null && tar xzf swagger-ui-dist-*.tgz)
rm -rf "$dest"
mkdir -p "$dest"
# only what the page loads, and the licences: the other bundles and the source maps are not served
for name in swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css favicon-32x32.png LICENSE NOTICE; do
  cp "$tmp/package/$name" "$dest/$name"
done
echo "$version" > "$dest/VERSION"
du -sh "$dest"
