#!/bin/sh
# Builds the example container images into kindling's local image store (no registry needed):
#   kindling/busybox:latest          busybox-static; functions/alpine:latest resolves to it
#   kindling/node-classic:latest     host node + node-classic/handler.mjs (one process per call)
#   kindling/node-http:latest        host node + node-http/server.mjs (mode=http, a warm server)
# usage: functions/container/build-images.sh [DATA_DIR]     (default: $KINDLING_DATA_DIR or ./.kindling)
set -e
cd "$(dirname "$0")/../.."
DATA_DIR=${1:-${KINDLING_DATA_DIR:-./.kindling}}
image() {
  node --import tsx -e 'import("./runtime/cli/image.ts").then(async (m) => process.exit(await m.imageCommand(process.argv.slice(2), process.argv[1])))' "$DATA_DIR" "$@"
}
image build busybox
image build node kindling/node-classic:latest --add functions/container/node-classic:/home/app \
  --env 'fprocess=node /home/app/handler.mjs'
image build node kindling/node-http:latest --add functions/container/node-http:/home/app \
  --env 'fprocess=node /home/app/server.mjs' --env mode=http
image list
