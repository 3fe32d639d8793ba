// Type-checks and renders a HubSpot app card the way HubSpot would, against a running connector.
//
//   CEM_CLIENT_SECRET=... CEM_PROXY_TARGET=http://127.0.0.1:8000 \
//     node crm-packages/hubspot/render-card.mjs <card.tsx> <contact id>[@<client secret>] ...
//
// 1. TypeScript checks the card against @hubspot/ui-extensions' own types (a wrong prop fails).
// 2. esbuild bundles it with React and the ui-extensions test renderer (@hubspot/ui-extensions/testing).
// 3. hubspot.fetch() is served as HubSpot's proxy serves it: the request is signed with the app's client
//    secret (X-HubSpot-Signature-v3 over method + URL + body + timestamp) and sent to CEM_PROXY_TARGET,
//    which stands for the public URL the card names (a TLS-terminating proxy in front of the connector).
// 4. Once the card has loaded its data, the rendered texts, tags, statistics and links of each contact's render
//    print as one JSON line ({"ok": true, "renders": [...]}); a contact may name its own secret after '@'.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import ts from 'typescript';

const here = path.dirname(fileURLToPath(import.meta.url));
const [cardFile, ...cases] = process.argv.slice(2);
const defaultSecret = process.env.CEM_CLIENT_SECRET || '';
const target = process.env.CEM_PROXY_TARGET || '';
if (!cardFile || !cases.length || !defaultSecret || !target) {
  console.error('usage: CEM_CLIENT_SECRET=... CEM_PROXY_TARGET=... node render-card.mjs <card.tsx> <contact id>...');
  process.exit(2);
}

// Work inside crm-packages so '@hubspot/ui-extensions' and 'react' resolve to the pinned packages.
const work = fs.mkdtempSync(path.join(here, '..', '.render-'));
try {
  const card = path.join(work, path.basename(cardFile));
  fs.copyFileSync(cardFile, card);

  const program = ts.createProgram([card], {
    jsx: ts.JsxEmit.ReactJSX, strict: true, noEmit: true, target: ts.ScriptTarget.ES2020,
    module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler, skipLibCheck: true,
    allowImportingTsExtensions: true, types: [],
  });
  const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  if (diagnostics.length) {
    console.log(JSON.stringify({ ok: false, problems: diagnostics }));
    fs.rmSync(work, { recursive: true, force: true });
    process.exit(1);
  }

  const entry = path.join(work, 'entry.tsx');
  fs.writeFileSync(entry, `
    import React from 'react';
    import { createRenderer } from '@hubspot/ui-extensions/testing';
    import { CemCard } from './${path.basename(card)}';
    export { React, createRenderer, CemCard };
  `);
  const bundle = path.join(work, 'bundle.mjs');
  await esbuild.build({ entryPoints: [entry], bundle: true, format: 'esm', platform: 'node', outfile: bundle,
                        jsx: 'automatic', logLevel: 'error' });

  let requests = [];
  let secret = defaultSecret;
  globalThis.self = globalThis;
  globalThis.hsFetch = async (url, options = {}) => {
    const method = (options.method || 'GET').toUpperCase();
    const body = options.body === undefined ? '' : JSON.stringify(options.body);
    const timestamp = String(Date.now());
    const signature = crypto.createHmac('sha256', secret).update(method + url + body + timestamp).digest('base64');
    const local = new URL(url);
    const response = await fetch(target + local.pathname + local.search, {
      method, body: body || undefined,
      headers: { 'Content-Type': 'application/json', 'X-HubSpot-Signature-v3': signature,
                 'X-HubSpot-Request-Timestamp': timestamp },
    });
    requests.push({ url, method, status: response.status });
    return response;
  };

  const { React, createRenderer, CemCard } = await import(pathToFileURL(bundle).href);
  const walk = (node, out = []) => {
    for (const child of node.childNodes || []) {
      if (child.nodeType === 'element') {
        out.push(child);
        walk(child, out);
      }
    }
    return out;
  };
  const renders = [];
  for (const item of cases) {
    const [contactId, ownSecret] = item.split('@');
    secret = ownSecret || defaultSecret;
    requests = [];
    const renderer = createRenderer('crm.record.tab');
    const context = { ...renderer.mocks.context, crm: { ...renderer.mocks.context.crm, objectId: contactId } };
    renderer.render(React.createElement(CemCard, { context }));
    const settled = () => walk(renderer.getRootNode()).some((n) => ['cem-loaded', 'cem-pending', 'cem-error']
      .includes(n.props.testId));
    await renderer.waitFor(() => {
      if (!settled()) throw new Error('card has not loaded its data yet');
    }, { timeoutInMs: 8000 });
    const elements = walk(renderer.getRootNode());
    renders.push({
      contactId,
      requests,
      texts: elements.filter((n) => ['Text', 'Tag', 'Heading'].includes(n.name)).map((n) => n.text),
      links: elements.filter((n) => n.name === 'Link').map((n) => ({ text: n.text, href: n.props.href })),
      statistics: elements.filter((n) => n.name === 'StatisticsItem')
        .map((n) => ({ label: n.props.label, number: n.props.number })),
      testIds: Object.fromEntries(elements.filter((n) => n.props && n.props.testId)
        .map((n) => [n.props.testId, n.text])),
    });
  }
  console.log(JSON.stringify({ ok: true, renders }));
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
