// Converts the unpacked npm data packages into compact files (called by fetch-datasets.sh).
//   node convert-datasets.mjs <fashion-mnist package dir> <spam-assassin package dir> <out dir>
// Fashion-MNIST -> IDX (gzip), split per class: the last 1,000 valid images of each class are the test set.
// SpamAssassin  -> TSV (label \t text), easy-ham and hard-ham are "ham", spam is "spam"; a message is in
//                  the test set when the first 32 bits of its MD5 id are divisible by 5 (about 20 %).
// Also writes the small committed subset under <out dir>/subset.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const [fmDir, saDir, outDir] = process.argv.slice(2);
if (!fmDir || !saDir || !outDir) {
  console.error('usage: node convert-datasets.mjs <fashion-mnist dir> <spam-assassin dir> <out dir>');
  process.exit(2);
}

const PIXELS = 28 * 28;
const TEST_PER_CLASS = 1000;
const SUBSET_TRAIN_PER_CLASS = 600;
const SUBSET_TEST_PER_CLASS = 100;
const SUBSET_MAIL_TRAIN = 1200;
const SUBSET_MAIL_TEST = 300;

function fail(message) { console.error(`convert-datasets: ${message}`); process.exit(1); }

function readClasses() {
  const classes = [];
  let dropped = 0;
  for (let c = 0; c < 10; c++) {
    const file = path.join(fmDir, 'src', 'clothes', `${c}.json`);
    const rows = JSON.parse(fs.readFileSync(file, 'utf8')).data;
    const valid = rows.filter(r => Array.isArray(r) && r.length === PIXELS &&
      r.every(v => Number.isInteger(v) && v >= 0 && v <= 255));
    dropped += rows.length - valid.length;
    classes.push(valid);
  }
  const total = classes.reduce((n, rows) => n + rows.length, 0);
  console.log(`fashion-mnist: ${total} valid images, ${dropped} invalid entries dropped`);
  if (total !== 70000) fail(`expected 70,000 valid images, found ${total}`);
  return classes;
}

// Interleaves classes (image i of class c at i*10+c) so that every prefix is stratified.
function interleave(classes, from, count) {
  const images = [], labels = [];
  for (let i = 0; i < count; i++) {
    for (let c = 0; c < classes.length; c++) {
      images.push(classes[c][from(c) + i]);
      labels.push(c);
    }
  }
  return { images, labels };
}

function writeIdx(dir, prefix, { images, labels }) {
  const img = Buffer.alloc(16 + images.length * PIXELS);
  img.writeUInt32BE(0x00000803, 0); img.writeUInt32BE(images.length, 4);
  img.writeUInt32BE(28, 8); img.writeUInt32BE(28, 12);
  images.forEach((row, i) => Buffer.from(row).copy(img, 16 + i * PIXELS));
  const lab = Buffer.alloc(8 + labels.length);
  lab.writeUInt32BE(0x00000801, 0); lab.writeUInt32BE(labels.length, 4);
  Buffer.from(labels).copy(lab, 8);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${prefix}-images-idx3-ubyte.gz`), zlib.gzipSync(img, { level: 9 }));
  fs.writeFileSync(path.join(dir, `${prefix}-labels-idx1-ubyte.gz`), zlib.gzipSync(lab, { level: 9 }));
  console.log(`  ${path.join(dir, prefix)}: ${labels.length} images`);
}

function convertFashionMnist() {
  const classes = readClasses();
  const perClass = classes[0].length;
  if (classes.some(rows => rows.length !== perClass)) fail('classes differ in size');
  const trainPerClass = perClass - TEST_PER_CLASS;
  const dir = path.join(outDir, 'fashion-mnist');
  writeIdx(dir, 'train', interleave(classes, () => 0, trainPerClass));
  writeIdx(dir, 't10k', interleave(classes, () => trainPerClass, TEST_PER_CLASS));
  const sub = path.join(outDir, 'subset', 'fashion-mnist');
  writeIdx(sub, 'train', interleave(classes, () => 0, SUBSET_TRAIN_PER_CLASS));
  writeIdx(sub, 't10k', interleave(classes, () => trainPerClass, SUBSET_TEST_PER_CLASS));
}

function readMails() {
  const list = JSON.parse(fs.readFileSync(path.join(saDir, 'data', 'file_list.json'), 'utf8'));
  const mails = list.map(rel => {
    const group = rel.split('/')[0];
    const md5 = path.basename(rel).split('.')[1];
    const label = group.startsWith('spam') ? 'spam' : group.includes('ham') ? 'ham' : fail(`unknown group ${group}`);
    const text = fs.readFileSync(path.join(saDir, 'data', rel), 'utf8').replace(/[\t\r\n]+/g, ' ').trim();
    return { md5, label, text, test: parseInt(md5.slice(0, 8), 16) % 5 === 0 };
  });
  if (mails.length !== 6046) fail(`expected 6,046 e-mails, found ${mails.length}`);
  return mails;
}

function writeTsv(file, mails, gzip) {
  const body = mails.map(m => `${m.label}\t${m.text}\n`).join('');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, gzip ? zlib.gzipSync(Buffer.from(body, 'utf8'), { level: 9 }) : body);
  const spam = mails.filter(m => m.label === 'spam').length;
  console.log(`  ${file}: ${mails.length} e-mails (${spam} spam)`);
}

function convertSpamAssassin() {
  const mails = readMails();
  console.log(`spam-assassin: ${mails.length} e-mails`);
  const train = mails.filter(m => !m.test), test = mails.filter(m => m.test);
  const dir = path.join(outDir, 'spam-assassin');
  writeTsv(path.join(dir, 'train.tsv'), train, false);
  writeTsv(path.join(dir, 'test.tsv'), test, false);
  // The subset takes messages in MD5 order: a deterministic mix of groups.
  const byId = rows => [...rows].sort((a, b) => a.md5.localeCompare(b.md5));
  const sub = path.join(outDir, 'subset', 'spam-assassin');
  writeTsv(path.join(sub, 'train.tsv.gz'), byId(train).slice(0, SUBSET_MAIL_TRAIN), true);
  writeTsv(path.join(sub, 'test.tsv.gz'), byId(test).slice(0, SUBSET_MAIL_TEST), true);
}

convertFashionMnist();
convertSpamAssassin();
