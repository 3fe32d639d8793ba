// Builds a browser page that runs a Lightning web component with Salesforce's own LWC compiler and engine.
//
//   node crm-packages/salesforce/build-lwc-page.mjs <lwc bundle dir> <output dir>
//
// @lwc/compiler compiles the component's JavaScript, template and CSS exactly as the platform does;
// @lwc/engine-dom runs it. Two things only exist inside Salesforce and are stood in for, as sfdx-lwc-jest does:
// the base components (lightning-card, lightning-spinner: lwc-stubs/) and Apex (`@salesforce/apex/<Class>.<method>`
// becomes a POST of the method's arguments to /apex/<Class>.<method> on the page's own server, which the test
// serves as the Apex class would: signed call to the connector, AuraHandledException-shaped errors).
// The page mounts the component with ?recordId=..., waits until it shows data, a message or an error, and copies
// its rendered shadow tree into <div id="cem-snapshot"> so `chromium --dump-dom` can read it.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import * as esbuild from 'esbuild';

const require = createRequire(import.meta.url);
const { transformSync } = require('@lwc/compiler');
const here = path.dirname(fileURLToPath(import.meta.url));
const [bundleDir, outDir] = process.argv.slice(2).map((p) => path.resolve(p));
const componentName = path.basename(bundleDir);
const roots = { c: path.dirname(bundleDir), lightning: path.join(here, 'lwc-stubs') };

const lwcPlugin = {
  name: 'lwc',
  setup(build) {
    build.onResolve({ filter: /^lwc$/ }, () => ({ path: require.resolve('@lwc/engine-dom') }));
    build.onResolve({ filter: /^(c|lightning)\/[\w-]+$/ }, (args) => {
      const [namespace, name] = args.path.split('/');
      return { path: path.join(roots[namespace], name, `${name}.js`) };
    });
    build.onResolve({ filter: /^@salesforce\/apex\// }, (args) => ({ path: args.path, namespace: 'apex' }));
    build.onLoad({ filter: /.*/, namespace: 'apex' }, (args) => ({
      loader: 'js',
      contents: `export default function (params) {
        return fetch('/apex/${args.path.slice('@salesforce/apex/'.length)}', {
          method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(params || {}),
        }).then((response) => response.ok ? response.json()
          : response.json().then((body) => Promise.reject({ body })));
      }`,
    }));
    // A component's implicit stylesheets are optional: a missing one is an empty module, as in the LWC toolchain.
    build.onResolve({ filter: /\.css(\?scoped=true)?$/ }, (args) => {
      const file = path.join(args.resolveDir, args.path.replace('?scoped=true', ''));
      return fs.existsSync(file) ? { path: file, suffix: args.path.endsWith('?scoped=true') ? '?scoped' : '' }
        : { path: file, namespace: 'empty' };
    });
    build.onLoad({ filter: /.*/, namespace: 'empty' }, () => ({ contents: 'export default undefined;', loader: 'js' }));
    build.onLoad({ filter: /\.(js|html|css)$/ }, (args) => {
      const inside = Object.entries(roots).find(([, root]) => args.path.startsWith(root + path.sep));
      if (!inside) return undefined;
      const name = path.basename(path.dirname(args.path));
      const source = fs.readFileSync(args.path, 'utf8');
      const result = transformSync(source, path.basename(args.path), {
        namespace: inside[0], name, scopedStyles: args.suffix === '?scoped' });
      return { contents: result.code, loader: 'js', resolveDir: path.dirname(args.path) };
    });
  },
};

const entry = `
import { createElement } from 'lwc';
import Component from 'c/${componentName}';
const element = createElement('c-${componentName.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}', { is: Component });
element.recordId = new URLSearchParams(window.location.search).get('recordId');
document.body.appendChild(element);
const settled = () => element.shadowRoot &&
  element.shadowRoot.querySelector('[data-id="cem-loaded"],[data-id="cem-error"],[data-id="cem-pending"]');
const timer = setInterval(() => {
  if (!settled()) return;
  clearInterval(timer);
  const snapshot = document.createElement('div');
  snapshot.id = 'cem-snapshot';
  snapshot.innerHTML = element.shadowRoot.innerHTML;
  document.body.appendChild(snapshot);
}, 50);
`;

try {
  fs.mkdirSync(outDir, { recursive: true });
  await esbuild.build({
    stdin: { contents: entry, resolveDir: here, loader: 'js' }, bundle: true, format: 'iife', platform: 'browser',
    outfile: path.join(outDir, 'bundle.js'), plugins: [lwcPlugin], logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  fs.writeFileSync(path.join(outDir, 'index.html'),
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>record page</title></head>' +
    '<body><script src="bundle.js"></script></body></html>\n');
  console.log(JSON.stringify({ ok: true, files: ['index.html', 'bundle.js'] }));
} catch (error) {
  const problems = (error.errors || [error]).map((e) => e.text || e.message);
  console.log(JSON.stringify({ ok: false, problems }));
  process.exit(1);
}
