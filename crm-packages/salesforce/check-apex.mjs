// Parses Apex classes and triggers with the ANTLR grammar of @apexdevtools/apex-parser (which follows the
// platform compiler's syntax), so a syntax error is caught before a deploy. It checks syntax, not types:
// compiling against an org's schema needs the org.
//
//   node crm-packages/salesforce/check-apex.mjs <file.cls|file.trigger> ...
import fs from 'node:fs';
import path from 'node:path';
import { ApexErrorListener, ApexParserFactory } from '@apexdevtools/apex-parser';

class Collect extends ApexErrorListener {
  constructor(file) {
    super();
    this.file = file;
    this.errors = [];
  }

  apexSyntaxError(line, column, message) {
    this.errors.push(`${path.basename(this.file)}:${line}:${column} ${message}`);
  }
}

const problems = [];
const checked = [];
for (const file of process.argv.slice(2)) {
  const listener = new Collect(file);
  const { parser } = ApexParserFactory.createLexerAndParser(fs.readFileSync(file, 'utf8'), listener);
  if (file.endsWith('.trigger')) parser.triggerUnit(); else parser.compilationUnit();
  problems.push(...listener.errors);
  checked.push(path.basename(file));
}
console.log(JSON.stringify({ ok: problems.length === 0, checked, problems }));
process.exit(problems.length === 0 ? 0 : 1);
