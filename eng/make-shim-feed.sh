#!/usr/bin/env bash
# Regenerates the metadata-only package that stands in for Patched.DistributedLock.Postgres 1.3.3.
# Weasel.Postgresql 9.49 (pulled in by Marten 9.58) depends on that package, which our NuGet source
# does not serve; the shim carries no code and only points at upstream DistributedLock.Postgres 1.3.1.
# See docs/architecture.md ("Dependencies") for why and for the HotCold daemon limitation.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
feed="$here/feed"
id="Patched.DistributedLock.Postgres"
version="1.3.3"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat > "$work/$id.nuspec" <<NUSPEC
<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>
    <id>$id</id>
    <version>$version</version>
    <authors>EventSourcedHub</authors>
    <description>Metadata-only shim: depends on DistributedLock.Postgres 1.3.1. Built by eng/make-shim-feed.sh.</description>
    <dependencies>
      <group targetFramework="net8.0">
        <dependency id="DistributedLock.Postgres" version="1.3.1" />
      </group>
      <group targetFramework="netstandard2.0">
        <dependency id="DistributedLock.Postgres" version="1.3.1" />
      </group>
    </dependencies>
  </metadata>
</package>
NUSPEC
mkdir -p "$feed"
rm -f "$feed/${id,,}.$version.nupkg" "$feed/$id.$version.nupkg"
(cd "$work" && TZ=UTC touch -d '2020-01-01 00:00:00' "$id.nuspec" && zip -X -q "$feed/${id,,}.$version.nupkg" "$id.nuspec")
echo "wrote $feed/${id,,}.$version.nupkg"
