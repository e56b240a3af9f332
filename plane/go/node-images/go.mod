// Static binaries for the images the real node runs. No registry resolves images on
// these machines, so the sandbox (pause) image and the test server are made here.
module baton.dev/test/controlplane/node-images

go 1.24.0
