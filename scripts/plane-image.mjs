// skaffold's custom builder for the local plane (`skaffold build -p plane`): builds
// $IMAGE from the project's Dockerfile with buildah, on local stand-ins for its `FROM`
// bases (no public registry resolves on these machines), and pushes it to the plane's
// registry when skaffold asks ($PUSH_IMAGE). Users' clusters use the docker builder.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const module = join(root, 'dist', 'plane', 'node', 'project-image.js');
if (!existsSync(module)) {
  console.error(`plane-image: ${module} is missing; run \`npm run build\` first`);
  process.exit(2);
}
const ref = process.env.IMAGE;
if (!ref) {
  console.error('plane-image: IMAGE is not set; this script is skaffold\'s custom builder (run `skaffold build -p plane`)');
  process.exit(2);
}
const { buildProjectImage } = await import(module);
try {
  const image = await buildProjectImage(
    { ref, push: process.env.PUSH_IMAGE === 'true', context: process.env.BUILD_CONTEXT || root },
    (m) => console.error(`[plane-image] ${m}`),
  );
  console.error(`[plane-image] ${image.ref} built in ${(image.buildMs / 1000).toFixed(1)} s, ${(image.sizeBytes / 1e6).toFixed(0)} MB${image.digest ? `, pushed as ${image.digest}` : ''}`);
} catch (error) {
  console.error(`plane-image: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
