// Parses each Lightning web component's JavaScript as the ES module (with decorators) the LWC compiler expects.
//
//   node crm-packages/salesforce/check-lwc.mjs <lwc bundle dir> ...
//
// Catches syntax errors and imports other than the platform's (lwc, @salesforce/*) before a deploy does.
import fs from 'node:fs';
import path from 'node:path';
import * as esbuild from 'esbuild';

const problems = [];
const checked = [];
for (const dir of process.argv.slice(2)) {
  const name = path.basename(dir);
  const file = path.join(dir, `${name}.js`);
  try {
    const source = fs.readFileSync(file, 'utf8');
    await esbuild.transform(source, { loader: 'js', format: 'esm', sourcefile: file });
    for (const [, specifier] of source.matchAll(/^import\s.+?from\s+'([^']+)'/gm)) {
      if (specifier !== 'lwc' && !specifier.startsWith('@salesforce/') && !specifier.startsWith('c/')) {
        problems.push(`${name}.js imports '${specifier}', which is not available on the Salesforce platform`);
      }
    }
    checked.push(name);
  } catch (error) {
    problems.push(`${name}.js: ${error.message}`);
  }
}
console.log(JSON.stringify({ ok: problems.length === 0, checked, problems }));
process.exit(problems.length === 0 ? 0 : 1);
