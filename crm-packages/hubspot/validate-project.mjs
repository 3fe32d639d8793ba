// Validates a HubSpot developer-platform project with HubSpot's own parser (@hubspot/project-parsing-lib).
//
//   node crm-packages/hubspot/validate-project.mjs <project dir>
//
// parseProjectConfig() checks hsproject.json, getProjectMetadata() the component counts, and translate() runs
// the full pipeline the CLI runs before an upload: *-hsmeta.json discovery, JSON parsing, uid rules,
// component directories, the app dependency, duplicates, and the per-component config schema. That schema is
// normally downloaded from the account (project-schemas/v3/<platformVersion>), which needs a HubSpot login; here
// offline-schemas.mjs stands in for it (see register-offline-schemas.mjs). Prints one JSON line and exits 1 on
// any problem.
import path from 'node:path';
import { register } from 'node:module';

register('./register-offline-schemas.mjs', import.meta.url);

const { parseProjectConfig, getProjectMetadata } = await import('@hubspot/project-parsing-lib/projects');
const { translate, isTranslationError } = await import('@hubspot/project-parsing-lib/translate');

const projectDir = path.resolve(process.argv[2] || '.');
const problems = [];
let summary = {};
try {
  const config = parseProjectConfig(projectDir);
  const srcDir = path.join(projectDir, config.srcDir);
  const metadata = await getProjectMetadata(srcDir);
  for (const [type, info] of Object.entries(metadata.components)) {
    if (info.count > info.maxCount) problems.push(`${type}: ${info.count} components, at most ${info.maxCount}`);
  }
  const result = await translate({ projectSourceDir: srcDir, platformVersion: config.platformVersion, accountId: 1 });
  if (result.skippedHsMetaFiles.length) {
    problems.push(`hsmeta files outside a component directory: ${result.skippedHsMetaFiles.join(', ')}`);
  }
  const nodes = result.intermediateRepresentation.intermediateNodesIndexedByUid;
  summary = {
    platformVersion: config.platformVersion,
    components: Object.fromEntries(Object.entries(nodes).map(([uid, node]) => [uid, {
      type: node.componentType, deps: node.componentDeps, file: node.metaFilePath, config: node.config }])),
  };
} catch (error) {
  problems.push(isTranslationError(error) ? error.toString() : `${error.name}: ${error.message}`);
}
console.log(JSON.stringify({ ok: problems.length === 0, problems, ...summary }));
process.exit(problems.length === 0 ? 0 : 1);
