// Converts an SFDX project's source format to Metadata API format with Salesforce's own library
// (@salesforce/source-deploy-retrieve, what `sf project convert source` and `sf project deploy` use).
//
//   node crm-packages/salesforce/convert-source.cjs <sfdx project dir> <output dir>
//
// A file SDR cannot read (malformed XML, unknown suffix, a bundle missing its -meta.xml) makes the
// conversion fail; so does sfdx-project.json without a package directory. Prints one JSON line with the
// components found and the files written, and exits 1 on any problem.
const fs = require('node:fs');
const path = require('node:path');
const { ComponentSet, MetadataConverter } = require('@salesforce/source-deploy-retrieve');

async function main(projectDir, outputDir) {
  const project = JSON.parse(fs.readFileSync(path.join(projectDir, 'sfdx-project.json'), 'utf8'));
  const directories = (project.packageDirectories || []).map((entry) => path.join(projectDir, entry.path));
  if (directories.length === 0) throw new Error('sfdx-project.json has no packageDirectories');
  const components = ComponentSet.fromSource({ fsPaths: directories });
  components.sourceApiVersion = project.sourceApiVersion;
  components.apiVersion = project.sourceApiVersion;
  const found = components.toArray().map((c) => `${c.type.name}:${c.fullName}`).sort();
  if (found.length === 0) throw new Error('no metadata components found in the package directories');
  await new MetadataConverter().convert(components, 'metadata', {
    type: 'directory', outputDirectory: outputDir, genUniqueDir: false,
  });
  const written = [];
  const walk = (dir) => fs.readdirSync(dir, { withFileTypes: true }).forEach((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full); else written.push(path.relative(outputDir, full));
  });
  walk(outputDir);
  return { ok: true, components: found, files: written.sort() };
}

main(path.resolve(process.argv[2] || '.'), path.resolve(process.argv[3] || 'mdapi-out'))
  .then((result) => console.log(JSON.stringify(result)))
  .catch((error) => {
    console.log(JSON.stringify({ ok: false, problems: [`${error.name}: ${error.message}`] }));
    process.exit(1);
  });
