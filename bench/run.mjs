#!/usr/bin/env node
// npm run bench [-- --size 1G --runs 5 --check --samples --only pipes,re-encrypt,…]
//
// Measures envelope beside its peers on this machine, in one run, and prints one
// markdown table: medians of --runs runs (of at least 31 for start-up), and
// envelope/peer ratios taken in the same run. Peers: age (Debian package `age`;
// installed with apt-get when missing and we are root, else reported missing),
// `openssl enc -aes-256-ctr` as the speed-of-light line, and the AWS Encryption
// SDK for JavaScript at its defaults. --check exits 1 when a target of issue #6 / DESIGN §8 is missed,
// or when the data path faults in fresh memory as it goes (more than a
// quarter of the input's pages: src/stream/free-memory.ts says why).
// Not part of the test suite: timings belong here, not in unit tests.
//
// Inputs past 16 MiB are sealed and opened on worker threads
// (src/stream/parallel.ts). The rows through pipes also time envelope with
// ENVELOPE_THREADS=1, the single-thread path. Every column of a row is
// measured in the same rounds, interleaved (envelope, envelope on one thread,
// age, openssl, then again), so that other load on the machine falls on all
// of them alike.

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ENVELOPE = join(ROOT, 'bin', 'envelope');
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const SIZE = parseSize(opt('size', '1G'));
const ESDK_SIZE = Math.min(SIZE, 256 * 1024 * 1024);
const RUNS = Number(opt('runs', '5'));
// Start-up runs take a tenth of a second, and their spread is a few ms out of
// ~25 that the ratio is made of: never fewer than this many rounds of them.
const START_RUNS = Math.max(RUNS, 31);
const CHECK = args.includes('--check');
// Every run's time on stderr, not only the medians: to see a row's spread.
const SAMPLES = args.includes('--samples');
// --only pipes,start-up: only those groups of rows, and --check of their targets alone.
const GROUPS = ['pipes', 'files', 'signed', 're-encrypt', 'start-up', 'esdk', 'memory'];
const ONLY = opt('only', GROUPS.join(',')).split(',');
for (const g of ONLY) if (!GROUPS.includes(g)) throw new Error(`bad --only ${g}: groups are ${GROUPS.join(', ')}`);
const measures = (group) => ONLY.includes(group);

function parseSize(text) {
  const m = /^(\d+)([KMG]?)$/i.exec(text);
  if (!m) throw new Error(`bad --size ${text}`);
  return Number(m[1]) * { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2].toUpperCase()];
}

// Settings that make every Node process start slower are taken out of every
// run, envelope's and `node -e 0`'s alike: they would flatter the start-up
// ratios. NODE_EXTRA_CA_CERTS makes Node read and parse that bundle of
// certificates at each start: with Debian's (~140 certificates) `node -e 0`
// took ~45 ms longer here, and the 1 KiB decrypt / `node -e 0` ratio read
// 1.45 with it set against 1.75 without (hyperfine, 2026-12-06).
const SLOW_START = ['NODE_EXTRA_CA_CERTS', 'NODE_OPTIONS'].filter((name) => process.env[name] !== undefined);
for (const name of SLOW_START) delete process.env[name];
const sh = (script, env = {}) => spawnSync('bash', ['-o', 'pipefail', '-c', script], { env: { ...process.env, ...env }, encoding: 'utf8' });
const has = (cmd) => sh(`command -v ${cmd}`).status === 0;
const q = (s) => `'${s.replace(/'/g, `'\\''`)}'`;

function findAge() {
  if (has('age')) return 'age';
  if (process.getuid?.() === 0 && has('apt-get')) {
    process.stderr.write('bench: age is missing; installing the Debian package…\n');
    sh('(apt-get install -y age || (apt-get update && apt-get install -y age)) >/dev/null 2>&1');
    if (has('age')) return 'age';
  }
  process.stderr.write('bench: age is not installed and could not be installed: its column stays empty\n');
  return undefined;
}

/**
 * Median wall times in seconds of several bash pipelines (name → [script, env]),
 * run in interleaved rounds after one untimed round; throws if one fails.
 *
 * The untimed round is there because the first run of a command after a
 * quiet spell (input files written, another group of rows timed) took its
 * memory from the host: on this VM the guest hands free memory back
 * (virtio-balloon free page reporting) and a page taken back costs ~8 us, so
 * the first cp + sync of 1 GiB after the inputs were written took 2.75 s and
 * the next ones 0.82-0.92 s (whichever command came first paid; by hand,
 * 2026-12-07).
 *
 * Before each run, untimed, the files the runs write (`outputs`) are removed
 * and `sync` writes back what the run before left dirty (cp and age do not
 * sync their output), so that no run pays for the disk writes of the one
 * before it, and every run writes a new file. An output left in place
 * favours whoever truncates it (age, cp): its page cache is freed first and
 * the new file reuses those pages, where envelope's temporary file (renamed
 * over it at the end, DESIGN §5) takes fresh pages while the old file still
 * holds its own. On this VM fresh pages cost, and which pages a writer gets
 * varies from run to run: the guest reports free memory in blocks of 2 MiB
 * and more, and a writer whose writes line up with the file's pages gets
 * large page-cache folios, taken from exactly those blocks (dd of 1 GiB in
 * aligned 1 MiB writes: 1.1-1.3 s of system time, the same writes 1000 bytes
 * off: 0.4-0.8 s, three of each, alternating, 3 s after the last free). A
 * re-encrypt to a key of the same kind keeps the header's length, so its
 * writes line up; its time through a file varies the most (README, Speed).
 */
function timeInterleaved(scripts, outputs = [], runs = RUNS) {
  const samples = Object.fromEntries(Object.keys(scripts).map((k) => [k, []]));
  const prepare = [...(outputs.length > 0 ? [`rm -f ${outputs.map(q).join(' ')}`] : []), 'sync'].join(' && ');
  for (let i = -1; i < runs; i++) {
    for (const [name, [script, env]] of Object.entries(scripts)) {
      if (sh(prepare).status !== 0) throw new Error(`failed: ${prepare}`);
      const start = process.hrtime.bigint();
      const r = sh(script, env);
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      if (r.status !== 0) throw new Error(`failed: ${script}\n${r.stderr}`);
      if (i >= 0) samples[name].push(seconds);
    }
  }
  if (SAMPLES) {
    for (const [name, [script]] of Object.entries(scripts)) {
      process.stderr.write(`bench: ${samples[name].map((t) => t.toFixed(3)).join(' ')}  ${name}: ${script}\n`);
    }
  }
  return Object.fromEntries(
    Object.entries(samples).map(([k, v]) => [k, v.sort((a, b) => a - b)[Math.floor(v.length / 2)]]),
  );
}

/**
 * `envelope serve` over a keystore of its own with one key, on a free loopback
 * port: the AWS KMS that the KMS row talks to through the real AWS SDK.
 */
async function startServe(keystore) {
  const keyEnv = { ...process.env, ENVELOPE_KEYSTORE: keystore, NO_COLOR: '1' };
  const keyId = execFileSync(process.execPath, [ENVELOPE, 'keygen', 'bench-kms'], { env: keyEnv, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  const child = spawn(process.execPath, [ENVELOPE, '-q', 'serve', '--listen', '127.0.0.1:0', '--region', 'us-east-1'], { env: keyEnv, stdio: ['ignore', 'ignore', 'pipe'] });
  const endpoint = await new Promise((resolveEndpoint, reject) => {
    let text = '';
    child.stderr.on('data', (d) => {
      text += d;
      const m = / at (http:\/\/\S+) /.exec(text);
      if (m) resolveEndpoint(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`envelope serve exited with ${code}: ${text}`)));
  });
  return {
    arn: `arn:aws:kms:us-east-1:111122223333:key/${keyId}`,
    env: { AWS_ENDPOINT_URL_KMS: endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'AKIABENCH', AWS_SECRET_ACCESS_KEY: 'bench', AWS_EC2_METADATA_DISABLED: 'true' },
    stop: () => child.kill('SIGTERM'),
  };
}

/**
 * Peak RSS in MiB and minor page faults of the envelope process fed by `feed`
 * (a file), with GNU time. The faults guard against memory that is given back
 * to the kernel and faulted in again for every frame (src/stream/free-memory.ts):
 * ~14k for 1 GiB when all is well, 240-300k when it was not.
 */
function peakRss(args, feed, env) {
  if (!existsSync('/usr/bin/time')) return undefined;
  const report = join(dir, 'rss');
  const r = sh(`cat ${q(feed)} | /usr/bin/time -f '%M %R' -o ${q(report)} ${q(process.execPath)} ${q(ENVELOPE)} ${args} | cat > /dev/null`, env);
  if (r.status !== 0) throw new Error(`failed: envelope ${args}\n${r.stderr}`);
  const [kib, faults] = readFileSync(report, 'utf8').trim().split(/\s+/).map(Number);
  return { mib: kib / 1024, faults };
}

/** Fast pseudo-random input: AES-CTR of zeros, written in 4 MiB blocks. */
function makeInput(path, size) {
  const cipher = createCipheriv('aes-256-ctr', randomBytes(32), randomBytes(16));
  const block = Buffer.alloc(4 * 1024 * 1024);
  const fd = openSync(path, 'w');
  for (let left = size; left > 0; left -= block.length) writeSync(fd, cipher.update(block.subarray(0, Math.min(block.length, left))));
  closeSync(fd);
}

const dir = mkdtempSync(join(tmpdir(), 'envelope-bench-'));
try {
  const env = { ENVELOPE_KEYSTORE: join(dir, 'keystore'), NO_COLOR: '1' };
  const input = join(dir, 'input');
  const small = join(dir, 'small');
  makeInput(small, 1024);
  execFileSync(process.execPath, [ENVELOPE, 'keygen', 'bench'], { env: { ...process.env, ...env }, stdio: 'ignore' });
  const E = `${q(process.execPath)} ${q(ENVELOPE)}`;
  sh(`${E} encrypt -k alias/bench < ${q(small)} > ${q(small)}.env`, env);

  const rows = [];
  const row = (what, envelope, peers) => rows.push({ what, envelope, peers });

  // Start-up goes first, before the GiBs of the other groups are written and
  // removed: on this VM the guest hands freed memory back to the host, and a
  // page taken back costs more to touch again after heavy file I/O (README,
  // Speed). Both start-up rows touch ~500-800 pages more than `node -e 0`, so
  // timed after the other groups their ratios depended on which groups ran
  // before them (the 1 KiB decrypt read 1.80x in a full run and 1.59x alone,
  // the same build, 2026-12-07); timed first, `--only start-up` and a full
  // run measure the same thing.
  if (measures('start-up')) {
    // Start-up is tens of milliseconds: a burst of other load lands on a few
    // runs, so both rows and their anchor are timed in the same rounds too.
    // Each run also pays for bash and for the spawn (~12 ms here, against
    // ~65 ms for Node): timed on its own in the same rounds (`true`) and taken
    // off every start-up time, as hyperfine does, so that the ratios are
    // those of the commands themselves. So that bash is all there is to take
    // off, every command is bash's own process: bash -c runs a lone command
    // in its own place (exec), but forks first for one with redirections,
    // unless told to exec (the fork and the wait made `node -e 0 < f >
    // /dev/null` 3.7 ms slower than the same with exec, and 3.2 ms slower
    // than `node -e 0`: medians of 41, 2026-12-07).
    const start = timeInterleaved({
      version: [`${E} --version`, env],
      small: [`exec ${E} decrypt < ${q(small)}.env > /dev/null`, env],
      node: [`${q(process.execPath)} -e 0`, {}],
      shell: ['true', {}],
    }, [], START_RUNS);
    const own = (seconds) => seconds - start.shell;
    const shell = `less a shell's start (${(start.shell * 1000).toFixed(1)} ms), median of ${START_RUNS}`;
    row(`start-up: --version, ${shell}`, own(start.version), { 'node -e 0': own(start.node) });
    row(`decrypt 1 KiB, local key, ${shell}`, own(start.small), { 'node -e 0': own(start.node) });
  }

  // The inputs of the other groups (not written for --only start-up).
  const bulk = ONLY.some((group) => group !== 'start-up');
  if (bulk) {
    makeInput(input, SIZE);
    sh(`${E} encrypt -k alias/bench < ${q(input)} > ${q(input)}.env`, env);
    sh(`${E} encrypt -k alias/bench --sign < ${q(input)} > ${q(input)}.signed`, env);
  }
  const age = bulk ? findAge() : undefined;
  let ageKey;
  if (age) {
    ageKey = join(dir, 'age.key');
    sh(`age-keygen -o ${q(ageKey)} 2>/dev/null`);
    sh(`age -e -i ${q(ageKey)} < ${q(input)} > ${q(input)}.age`);
  }
  const hexKey = randomBytes(32).toString('hex');
  const hexIv = randomBytes(16).toString('hex');
  const pipe = (cmd, file) => `cat ${q(file)} | ${cmd} | cat > /dev/null`;

  const ONE = { ...env, ENVELOPE_THREADS: '1' };
  const fileOutputs = ['out', 'out.age', 'copy', 're', 're-kms'].map((name) => join(dir, name));
  if (measures('pipes')) {
    const enc = timeInterleaved({
      envelope: [pipe(`${E} encrypt -k alias/bench`, input), env],
      single: [pipe(`${E} encrypt -k alias/bench`, input), ONE],
      ...(age ? { age: [pipe(`age -e -i ${q(ageKey)}`, input), {}] } : {}),
      openssl: [pipe(`openssl enc -aes-256-ctr -K ${hexKey} -iv ${hexIv}`, input), {}],
    });
    row(`encrypt ${fmtSize(SIZE)}, pipes`, enc.envelope, { age: enc.age, openssl: enc.openssl, '1 thread': enc.single });
    const dec = timeInterleaved({
      envelope: [pipe(`${E} decrypt`, `${input}.env`), env],
      single: [pipe(`${E} decrypt`, `${input}.env`), ONE],
      ...(age ? { age: [pipe(`age -d -i ${q(ageKey)}`, `${input}.age`), {}] } : {}),
      openssl: [pipe(`openssl enc -d -aes-256-ctr -K ${hexKey} -iv ${hexIv}`, input), {}],
    });
    row(`decrypt ${fmtSize(SIZE)}, pipes`, dec.envelope, { age: dec.age, openssl: dec.openssl, '1 thread': dec.single });
  }
  if (measures('files')) {
    // A file output is fsynced before it is renamed into place; age's is not, so
    // age followed by an fsync of its output (coreutils sync FILE) is shown too.
    const ageFile = (flag, from) => `age ${flag} -i ${q(ageKey)} -o ${q(dir)}/out.age ${q(from)}`;
    const fenc = timeInterleaved({
      envelope: [`${E} encrypt -k alias/bench ${q(input)} -o ${q(dir)}/out --force`, env],
      ...(age ? { age: [ageFile('-e', input), {}], ageSync: [`${ageFile('-e', input)} && sync ${q(dir)}/out.age`, {}] } : {}),
    }, fileOutputs);
    row(`encrypt ${fmtSize(SIZE)}, files`, fenc.envelope, { age: fenc.age, 'age + sync': fenc.ageSync });
    const fdec = timeInterleaved({
      envelope: [`${E} decrypt ${q(input)}.env -o ${q(dir)}/out --force`, env],
      ...(age
        ? { age: [ageFile('-d', `${input}.age`), {}], ageSync: [`${ageFile('-d', `${input}.age`)} && sync ${q(dir)}/out.age`, {}] }
        : {}),
    }, fileOutputs);
    row(`decrypt ${fmtSize(SIZE)}, files`, fdec.envelope, { age: fdec.age, 'age + sync': fdec.ageSync });
  }
  if (measures('signed')) {
    const senc = timeInterleaved({
      envelope: [pipe(`${E} encrypt -k alias/bench --sign`, input), env],
      single: [pipe(`${E} encrypt -k alias/bench --sign`, input), ONE],
    });
    row(`signed encrypt ${fmtSize(SIZE)} (0x0578), pipes`, senc.envelope, { '1 thread': senc.single });
    const sdec = timeInterleaved({
      envelope: [pipe(`${E} decrypt`, `${input}.signed`), env],
      single: [pipe(`${E} decrypt`, `${input}.signed`), ONE],
    });
    row(`signed decrypt ${fmtSize(SIZE)} (0x0578), pipes`, sdec.envelope, { '1 thread': sdec.single });
  }
  if (measures('re-encrypt')) {
    // envelope fsyncs an output before renaming it into place (no partial file
    // after a crash); cp does not, so the like-for-like copy is cp and then an
    // fsync of the copy (coreutils sync FILE). Both columns are shown.
    const durableCopy = `cp ${q(input)}.env ${q(dir)}/copy && sync ${q(dir)}/copy`;
    const re = timeInterleaved({
      envelope: [`${E} re-encrypt ${q(input)}.env --to alias/bench -o ${q(dir)}/re --force`, env],
      cp: [`cp ${q(input)}.env ${q(dir)}/copy`, {}],
      durable: [durableCopy, {}],
    }, fileOutputs);
    row(`re-encrypt ${fmtSize(SIZE)}, local key`, re.envelope, { cp: re.cp, 'cp + sync': re.durable });
    const kms = await startServe(join(dir, 'kms-keystore'));
    try {
      const kmsEnv = { ...env, ...kms.env };
      const reKms = timeInterleaved({
        envelope: [`${E} re-encrypt ${q(input)}.env --to ${kms.arn} -o ${q(dir)}/re-kms --force`, kmsEnv],
        durable: [durableCopy, {}],
      }, fileOutputs);
      row(`re-encrypt ${fmtSize(SIZE)}, local key to an AWS KMS key (envelope serve on loopback)`, reKms.envelope, { 'cp + sync': reKms.durable });
    } finally {
      kms.stop();
    }
  }
  if (measures('esdk')) {
    const esdk = join(ROOT, 'bench', 'esdk-encrypt.mjs');
    const esdkInput = join(dir, 'esdk-input');
    makeInput(esdkInput, ESDK_SIZE);
    const vsEsdk = timeInterleaved({
      envelope: [`${E} encrypt -k alias/bench < ${q(esdkInput)} | cat > /dev/null`, env],
      esdk: [`${q(process.execPath)} ${q(esdk)} < ${q(esdkInput)} | cat > /dev/null`, {}],
    });
    row(`encrypt ${fmtSize(ESDK_SIZE)}, pipes, vs the ESDK for JS at its defaults (4 KiB frames)`, vsEsdk.envelope, { esdk: vsEsdk.esdk });
  }
  const measured = { rss: {}, faultsPerGiB: {} };
  if (measures('memory')) {
    const rssEnc = peakRss('encrypt -k alias/bench', input, env);
    const rssDec = peakRss('decrypt', `${input}.env`, env);
    const mib = (m) => (m === undefined ? 'no /usr/bin/time' : `${m.mib.toFixed(0)}`);
    const rss = (args, feed, e) => mib(peakRss(args, feed, e));
    const rssRe = peakRss('re-encrypt --to alias/bench', `${input}.env`, env);
    const rssEncOne = peakRss('encrypt -k alias/bench', input, ONE);
    const rssDecOne = peakRss('decrypt', `${input}.env`, ONE);
    rows.push({
    what: `peak RSS (MiB), encrypt / decrypt / signed encrypt / signed decrypt / re-encrypt ${fmtSize(SIZE)}, pipes`,
    envelope:
      rssEnc === undefined
        ? 'no /usr/bin/time'
        : `${mib(rssEnc)} / ${mib(rssDec)} / ${rss('encrypt -k alias/bench --sign', input, env)} / ${rss('decrypt', `${input}.signed`, env)} / ${mib(rssRe)}`,
    peers: {
      '1 thread': `${mib(rssEncOne)} / ${mib(rssDecOne)} / ${rss('encrypt -k alias/bench --sign', input, ONE)} / ${rss('decrypt', `${input}.signed`, ONE)}`,
    },
    });
    // Faults per GiB as the input grows: those of the whole input less those of
    // its first half (both past the threads' start-up), per GiB of the second half.
    const half = `${input}.half`;
    sh(`head -c ${SIZE / 2} ${q(input)} > ${q(half)} && ${E} encrypt -k alias/bench < ${q(half)} > ${q(half)}.env`, env);
    const faultsPerGiB = (whole, firstHalf) => whole && firstHalf && Math.round(((whole.faults - firstHalf.faults) * 1024 ** 3) / (SIZE / 2));
    const faults = {
    encrypt: faultsPerGiB(rssEnc, peakRss('encrypt -k alias/bench', half, env)),
    decrypt: faultsPerGiB(rssDec, peakRss('decrypt', `${half}.env`, env)),
    'encrypt on 1 thread': faultsPerGiB(rssEncOne, peakRss('encrypt -k alias/bench', half, ONE)),
    'decrypt on 1 thread': faultsPerGiB(rssDecOne, peakRss('decrypt', `${half}.env`, ONE)),
    };
    if (rssEnc) {
    rows.push({
      what: 'minor page faults per GiB as the input grows, encrypt / decrypt, pipes',
      envelope: `${faults.encrypt} / ${faults.decrypt}`,
      peers: { '1 thread': `${faults['encrypt on 1 thread']} / ${faults['decrypt on 1 thread']}` },
    });
    }
    measured.rss = { encrypt: rssEnc, decrypt: rssDec, 're-encrypt': rssRe };
    measured.faultsPerGiB = faults;
  }
  print(rows);
  if (CHECK) process.exitCode = check(rows, measured) ? 0 : 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}

function fmtSize(n) {
  return n >= 1024 ** 3 ? `${n / 1024 ** 3} GiB` : `${n / 1024 ** 2} MiB`;
}

function print(rows) {
  const cpu = cpus()[0]?.model ?? 'unknown cpu';
  const out = [
    `envelope bench, ${new Date().toISOString().slice(0, 10)}, ${cpus().length} × ${cpu}, node ${process.version}, median of ${RUNS}` +
      (SLOW_START.length > 0 ? `; ${SLOW_START.join(', ')} unset for every run` : ''),
    '',
    '| what | envelope | age | openssl | other | envelope / peer |',
    '|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const cell = (v) => (v === undefined || v === null ? '' : typeof v === 'number' ? `${v.toFixed(3)} s` : String(v));
    const others = Object.entries(r.peers).filter(([k]) => k !== 'age' && k !== 'openssl');
    const ratios = Object.entries(r.peers)
      .filter(([, v]) => typeof v === 'number' && typeof r.envelope === 'number')
      .map(([k, v]) => `${(r.envelope / v).toFixed(2)}× ${k}`);
    out.push(`| ${r.what} | ${cell(r.envelope)} | ${cell(r.peers.age)} | ${cell(r.peers.openssl)} | ${others.map(([k, v]) => `${k} ${cell(v)}`).join(', ')} | ${ratios.join(', ')} |`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

function check(rows, measured) {
  const failures = [];
  const ratio = (what, peer) => {
    const r = rows.find((x) => x.what.startsWith(what));
    return r && typeof r.envelope === 'number' && typeof r.peers[peer] === 'number' ? r.envelope / r.peers[peer] : undefined;
  };
  const want = (name, value, limit) => {
    if (value === undefined) failures.push(`${name}: not measured`);
    else if (value > limit) failures.push(`${name}: ${value.toFixed(2)} > ${limit}`);
  };
  if (measures('pipes')) {
    want('encrypt pipes / age', ratio(`encrypt ${fmtSize(SIZE)}, pipes`, 'age'), 1.0);
    want('decrypt pipes / age', ratio(`decrypt ${fmtSize(SIZE)}, pipes`, 'age'), 1.0);
  }
  if (measures('re-encrypt')) want('re-encrypt / durable cp', ratio('re-encrypt', 'cp + sync'), 1.2);
  if (measures('start-up')) {
    want('--version / node -e 0', ratio('start-up', 'node -e 0'), 1.5);
    want('1 KiB decrypt / node -e 0', ratio('decrypt 1 KiB', 'node -e 0'), 1.5);
  }
  for (const [what, m] of Object.entries(measured.rss)) want(`peak RSS ${what} (MiB)`, m?.mib, 100);
  // A quarter of 1 GiB's pages: the memory churned at ~240-300k for 1 GiB.
  for (const [what, faults] of Object.entries(measured.faultsPerGiB)) want(`minor page faults per GiB, ${what}`, faults, 65536);
  for (const f of failures) process.stderr.write(`bench --check: missed: ${f}\n`);
  return failures.length === 0;
}
