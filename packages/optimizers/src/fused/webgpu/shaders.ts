import { DIGRAP_EPS, FTP_EPS, FTP_GAMMA0, HYPER } from '../../hyper-adam';
/**
 * WGSL for the fused steps on WebGPU. Every dispatch gets one 256-byte uniform slot:
 *   words 0–3 (u32): n (elements), rows, rowLen, parts (workgroups of the reduction pass);
 *   floats F(0…59): the Adam constants, the method's hyper-parameters, and at F(COEF…) the scalars the
 *   device computed in the scalar phase (copied there from the scratch buffer, never read by the host).
 * Storage bindings follow the uniform in the order each program lists them; every program stays within
 * WebGPU's default limit of 8 storage buffers per stage (tfjs does not raise it), which is what splits
 * some passes (see `webgpu/kernels.ts` for the bytes each method then touches).
 */

export const WORKGROUP = 256;
/**
 * Threads of a reduction-pass workgroup, and elements per thread: a 6-round tree over 64 threads per
 * 4096 elements (barrier rounds and workgroup memory are what reductions pay for, most of all on
 * software adapters).
 */
export const REDUCE_WORKGROUP = 64;
export const ITEMS_PER_THREAD = 64;
const RW = REDUCE_WORKGROUP;
const ITEMS = ITEMS_PER_THREAD;
/** Elements one whole-tensor reduction workgroup covers (FTP rows: see ROW_GEOMETRY). */
export const REDUCE_SPAN = RW * ITEMS;

/** Float indices in the uniform slot. */
export const F = {
  b1: 0,
  c1: 1,
  b2: 2,
  c2: 3,
  rs2: 4,
  e: 5,
  sk: 6,
  dk: 7,
  /** L2-SP α; SPD λ; DiGraP λ. */
  hyper: 8,
  /** FTP's annealing k of positive hyper-gradients. */
  anneal: 9,
  /** 1 at the method's first step (t ≤ 1): the hyper state restarts. */
  first: 10,
  /** 1 when last step's state (C_prev/R_prev, P/Q) is read. */
  usePrev: 11,
  /** Bias corrections of the scalar hyper-Adam at this t: 1 − β₁ᵗ, 1 − β₂ᵗ (`HYPER`). */
  bc1: 12,
  bc2: 13,
  /** 1 when the previous hyper scalars were passed in (else their defaults). */
  hasScalars: 14,
  /** DiGraP: this tensor's learning rate of the previous step. */
  lrPrev: 15,
  /**
   * FTP (a u32, read with bitcast): the tensor is [rowLen / inner, rows, inner] and element
   * ((k / inner)·rows + row)·inner + k mod inner is the k-th of a row (inner = rowLen: torch layout,
   * contiguous rows; inner = 1: tfjs layouts, strided rows = output channels).
   */
  inner: 16,
  /** 1 when the 'guard' policy's finite flag was passed (then `finite` holds it, copied on the device). */
  guard: 17,
  /** The step's finite flag (1 finite, 0 not), copied from the device before the pass. */
  finite: 18,
  /**
   * 1 when the optional state input the guard keeps is present: FTP R_prev (A) and C_prev (B), DiGraP
   * P_prev (A) and Q_prev (B). Absent ones are computed as usual on a kept step, as on cpu/wasm.
   */
  keepA: 19,
  keepB: 20,
  /** Device-computed scalars (16 floats). */
  coef: 32,
} as const;

/** Bytes from the slot start to F(0). */
export const FLOAT_BASE_BYTES = 16;
export const SLOT_BYTES = 256;
export const SLOT_FLOATS = 60;

const f = (i: number): string => `F(${i}u)`;

/** WGSL: true on a step the 'guard' policy keeps (its finite flag was passed and is 0). */
const KEPT = `(${f(F.guard)} == 1.0 && ${f(F.finite)} == 0.0)`;

interface Binding {
  name: string;
  access: 'read' | 'read_write';
}

const r = (name: string): Binding => ({ name, access: 'read' });
const w = (name: string): Binding => ({ name, access: 'read_write' });

function prelude(bindings: readonly Binding[]): string {
  const decls = bindings
    .map((b, i) => `@group(0) @binding(${i + 1}) var<storage, ${b.access}> ${b.name}: array<f32>;`)
    .join('\n');
  return `struct U { n: u32, rows: u32, rowLen: u32, parts: u32, f: array<vec4<f32>, 15> }
@group(0) @binding(0) var<uniform> u: U;
${decls}
fn F(i: u32) -> f32 { return u.f[i >> 2u][i & 3u]; }
`;
}

const ENTRY = `@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  // Large tensors dispatch a 2-D grid (one dimension is capped at 65535 workgroups).
  let wg = wid.y * nwg.x + wid.x;
  let i = wg * ${WORKGROUP}u + lid;`;

/**
 * A workgroup tree reduction of `ops.length` values held in `var s: array<f32, K>` (sum or max per
 * component); afterwards red[0] holds the workgroup's totals. With `segment` (the name of a WGSL u32,
 * a power of two ≤ 256, uniform across the workgroup) each run of that many threads is reduced on its
 * own into red[its first thread]. Callers reach it in uniform control flow.
 */
function reduce(
  ops: readonly ('sum' | 'max')[],
  size: number,
  segment?: string,
): { decl: string; code: string } {
  const k = ops.length;
  const combine = ops
    .map((op, j) =>
      op === 'sum'
        ? `red[lid][${j}] = red[lid][${j}] + red[lid + step][${j}];`
        : `red[lid][${j}] = max(red[lid][${j}], red[lid + step][${j}]);`,
    )
    .join(' ');
  const start = segment ? `${segment} / 2u` : `${size / 2}u`;
  const active = segment ? `lid % ${segment} < step` : 'lid < step';
  return {
    decl: `var<workgroup> red: array<array<f32, ${k}>, ${size}>;`,
    code: `red[lid] = s;
  workgroupBarrier();
  for (var step = ${start}; step > 0u; step = step >> 1u) {
    if (${active}) { ${combine} }
    workgroupBarrier();
  }`,
  };
}

export interface ShaderSource {
  /** Pipeline cache key. */
  key: string;
  code: string;
  /** Storage bindings in order (binding i + 1). */
  bindings: readonly string[];
  /**
   * The call's finite-flag texture (1×1 r32uint, see `StepRecorder.flagView`) at binding
   * `bindings.length + 1`: written (storage) by the passes that check g, read (sampled) by FINITE_FINAL
   * and PUBLISH_SEEN; 'seen': the call's `seen` word (`StepRecorder.seen`) there instead, as a uniform.
   */
  flag?: 'write' | 'read' | 'seen';
}

/** A pass that reads g, with its variant that also checks g ('guard' inside the kernel: FLAG_CHECK). */
export interface CheckedSource extends ShaderSource {
  checked: ShaderSource;
  /**
   * An Adam pass's variant for a tensor whose g a check pass tested before it (`precheck` in
   * kernels.ts): it keeps on KEPT_OR_SEEN like a pass after the checks, so its outputs need no restore.
   */
  afterCheck?: ShaderSource;
}

function shader(key: string, bindings: readonly Binding[], body: string, extra = ''): ShaderSource {
  return { key, code: `${prelude(bindings)}${extra}\n${body}`, bindings: bindings.map((b) => b.name) };
}

/** WGSL: true for NaN and ±Inf, tested on the bits (all-ones exponent): no fast-math rule can fold it. */
const EXPONENT = '0x7f800000u';
const NON_FINITE = `fn nonFinite(x: f32) -> bool { return (bitcast<u32>(x) & ${EXPONENT}) == ${EXPONENT}; }`;

/** The flag texture's declaration at binding `storage + 1` (after a shader's storage buffers). */
function flagDecl(access: 'write' | 'read', storage: number): string {
  const type = access === 'write' ? 'texture_storage_2d<r32uint, write>' : 'texture_2d<u32>';
  return `@group(0) @binding(${storage + 1}) var flag: ${type};\n${NON_FINITE}`;
}

/**
 * The own check of a pass that reads g[i] ('guard' inside the kernel): a NaN or ±Inf stores 1 into the
 * call's flag texture (zero when created). A finite entry writes nothing, so a good step pays the bit
 * test alone. The texture is not a storage buffer: it does not count against WebGPU's default limit of
 * 8 per stage, which L2-SP's and FTP's Adam passes already use up.
 */
const STORE_SEEN = 'textureStore(flag, vec2<i32>(0, 0), vec4<u32>(1u, 0u, 0u, 0u));';
const FLAG_CHECK = `if (nonFinite(g[i])) { ${STORE_SEEN} }`;

/**
 * The call's `seen` word (what every check found, PUBLISH_SEEN) as a uniform at binding `storage + 1`.
 * A uniform, not the flag texture: an element pass would load the texture in every invocation (SwiftShader
 * runs texture loads through its sampler code; BENCHMARKS.md run H), a uniform is read like the slot's floats.
 */
function seenDecl(storage: number): string {
  return `@group(0) @binding(${storage + 1}) var<uniform> seen: vec4<u32>;`;
}

/**
 * WGSL: the kept condition of a pass that runs after every pass that checks g ('guard' inside the
 * kernel): a given flag of 0 (KEPT) or a NaN/±Inf seen by a check. Such a pass keeps its outputs
 * itself, so they need no restore (see `finishCall` in kernels.ts).
 */
const KEPT_OR_SEEN = `(${KEPT} || seen.x != 0u)`;

/**
 * A pass whose kept condition is `kept` (KEPT), with its `checked` variant: the same pass keeping on
 * KEPT_OR_SEEN, reading `seen` after its storage buffers.
 */
function flagged(
  key: string,
  bindings: readonly Binding[],
  body: (kept: string) => string,
  extra = '',
): CheckedSource {
  const checked = shader(
    `${key}Checked`,
    bindings,
    body(KEPT_OR_SEEN),
    `${extra}\n${seenDecl(bindings.length)}`,
  );
  return { ...shader(key, bindings, body(KEPT), extra), checked: { ...checked, flag: 'seen' } };
}

/**
 * The Adam pass every method shares: m' = b1·m + c1·ĝ, v' = b2·v + c2·ĝ², step = sk·m'/(√v'·rs2 + e),
 * with the gradient ĝ and what is stored from dk·θ + step chosen by the method. Same operation order
 * as the cpu/wasm passes (`loops.ts`). On a kept step ('guard', see KEPT) m and v are written through
 * and `keep` runs instead of `store`. Its `checked` variant also tests every g it reads (FLAG_CHECK),
 * or, with `checked` 'read' (a pass after the check: DiGraP's), keeps on KEPT_OR_SEEN instead.
 */
function adamPass(
  key: string,
  extraInputs: readonly string[],
  outputs: readonly string[],
  grad: string,
  store: string,
  keep: string,
  checked: 'check' | 'read' = 'check',
): CheckedSource {
  const bindings = [...['th', 'g', 'm', 'v', ...extraInputs].map(r), ...['mo', 'vo', ...outputs].map(w)];
  // The checked variant loads g[i] once, before its check: the flag store between a second load and
  // the first is a side effect the shader compiler may not move a load across.
  const body = (check: string, kept = KEPT) => `${ENTRY}
  if (i >= u.n) { return; }
  ${check ? `let g0 = g[i];\n  ${check.replaceAll('g[i]', 'g0')}` : ''}
  if (${kept}) {
    mo[i] = m[i];
    vo[i] = v[i];
    ${keep}
    return;
  }
  let ti = th[i];
  let gi = ${check ? grad.replaceAll('g[i]', 'g0') : grad};
  let mi = ${f(F.b1)} * m[i] + ${f(F.c1)} * gi;
  let vi = ${f(F.b2)} * v[i] + ${f(F.c2)} * (gi * gi);
  mo[i] = mi;
  vo[i] = vi;
  let next = ${f(F.dk)} * ti + (${f(F.sk)} * mi) / (sqrt(vi) * ${f(F.rs2)} + ${f(F.e)});
  ${store}
}`;
  const afterChecks = flagged(key, bindings, (kept) => body('', kept));
  if (checked === 'read') return afterChecks;
  const variant = shader(`${key}Checked`, bindings, body(FLAG_CHECK), flagDecl('write', bindings.length));
  return {
    ...shader(key, bindings, body('')),
    checked: { ...variant, flag: 'write' },
    afterCheck: { ...afterChecks.checked, key: `${key}AfterCheck` },
  };
}

/** AdamW (and SPD's q = θ − u): θ, g, m, v → θ', m', v'. 28 B. */
export const ADAMW = adamPass('adamw', [], ['tho'], 'g[i]', 'tho[i] = next;', 'tho[i] = th[i];');

/** L2-SP: Adam on g + α(θ − θ₀). 32 B. */
export const L2SP = adamPass(
  'l2sp',
  ['an'],
  ['tho'],
  `g[i] + ${f(F.hyper)} * (ti - an[i])`,
  'tho[i] = next;',
  'tho[i] = th[i];',
);

/**
 * FTP pass 1: Adam, then the deviation c = θ' − θ₀ (next step's C_prev) instead of θ'. 32 B. A kept
 * step leaves c to FTP_PROJECT (C_prev) and its rows to FTP_SCALARS (R_prev).
 */
export const FTP_ADAM = adamPass('ftpAdam', ['an'], ['co'], 'g[i]', 'co[i] = next - an[i];', '');

/**
 * DiGraP pass 2: Adam on ĝ = gs·g + cs·(θ − θ₀) (gs, cs from the device). 32 B. Its checked variant
 * runs after DIGRAP_SUMS checked every g, so it keeps on the call's flag itself.
 */
export const DIGRAP_ADAM = adamPass(
  'digrapAdam',
  ['an'],
  ['tho'],
  `${f(F.coef + 7)} * g[i] + ${f(F.coef + 8)} * (ti - an[i])`,
  'tho[i] = next;',
  'tho[i] = th[i];',
  'read',
);

/**
 * Entry of a reduction pass: workgroup wg covers REDUCE_SPAN elements, each thread ITEMS of them RW
 * apart (coalesced), so the barrier-bound tree reduction runs once per REDUCE_SPAN elements, not per 256.
 */
const REDUCE_ENTRY = `@compute @workgroup_size(${RW})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let wg = wid.y * nwg.x + wid.x;
  if (wg >= u.parts) { return; }`;

/**
 * A reduction pass over elements: each workgroup writes its K partial sums to part[wg·K + j]. With
 * `checked` (a value of `pre`, 'guard' inside the kernel) it also tests that value for NaN/±Inf: each
 * thread keeps the largest exponent field it read and stores into the call's flag texture once, after
 * its loop, when that field is all ones. Branch-free per element: SwiftShader runs both sides of a
 * branch masked, so a per-element `if (…) { textureStore }` cost every element a masked store.
 */
function sumsPass(
  key: string,
  inputs: readonly string[],
  values: readonly string[],
  pre: string,
  checked = '',
): ShaderSource {
  const k = values.length;
  const red = reduce(
    values.map(() => 'sum'),
    RW,
  );
  const add = values.map((v, j) => `s[${j}] = s[${j}] + ${v};`).join('\n      ');
  const bindings = [...inputs.map(r), w('part')];
  return shader(
    key,
    bindings,
    `${REDUCE_ENTRY}
  var s: array<f32, ${k}>;${checked ? '\n  var exponent = 0u;' : ''}
  for (var it = 0u; it < ${ITEMS}u; it++) {
    let i = wg * ${REDUCE_SPAN}u + it * ${RW}u + lid;
    if (i < u.n) {
      ${pre}${checked ? `\n      exponent = max(exponent, bitcast<u32>(${checked}) & ${EXPONENT});` : ''}
      ${add}
    }
  }${checked ? `\n  if (exponent == ${EXPONENT}) { ${STORE_SEEN} }` : ''}
  ${red.code}
  if (lid == 0u) { for (var j = 0u; j < ${k}u; j++) { part[wg * ${k}u + j] = red[0][j]; } }
}`,
    checked ? `${red.decl}\n${flagDecl('write', bindings.length)}` : red.decl,
  );
}

/** SPD sums ⟨g, θ − a⟩, ‖q − a‖², ‖θ − a‖² over θ, g, a and q (= θ' before decay). 16 B. */
export const SPD_SUMS = sumsPass(
  'spdSums',
  ['th', 'g', 'an', 'q'],
  ['g[i] * dt', 'dq * dq', 'dt * dt'],
  'let dt = th[i] - an[i];\n      let dq = q[i] - an[i];',
);

/**
 * DiGraP sums ⟨g,c⟩, ‖g‖², ‖c‖², ⟨G,P⟩, ⟨G,Q⟩ with c = θ − θ₀, G = g + λc. 20 B. Its checked variant
 * tests every g (the first pass of the step to read g, before any output is written): DiGraP's later
 * passes then keep on the flag themselves, and a bad step needs no restore.
 */
export const DIGRAP_SUMS: CheckedSource = (() => {
  const args = [
    'digrapSums',
    ['th', 'g', 'an', 'pp', 'qp'],
    ['gi * ci', 'gi * gi', 'ci * ci', 'G * pp[i]', 'G * qp[i]'],
    `let gi = g[i];\n      let ci = th[i] - an[i];\n      let G = gi + ${f(F.hyper)} * ci;`,
  ] as const;
  const checked = sumsPass(`${args[0]}Checked`, args[1], args[2], args[3], 'gi');
  return { ...sumsPass(...args), checked: { ...checked, flag: 'write' } };
})();

/**
 * FTP's row geometry, shared by the row-sum and scalar shaders (and `ftpRowGeometry` on the host):
 * a row is reduced by a segment of L = min(64, next power of two ≥ ⌈rowLen/64⌉) threads, each
 * summing up to 64 of its elements, so one workgroup reduces 64/L rows at once: a workgroup's
 * barrier-bound reduction covers ~4096 elements whatever the row length (real models have many short
 * rows); a row longer than 4096 is cut into cpr = ⌈rowLen / (64·L)⌉ chunks, one workgroup each.
 * Strided rows (tfjs layouts: inner = 1) of at least 64 columns take L = 1: one thread per (row,
 * chunk of 64), so neighbouring threads read neighbouring columns of a line and no tree rounds run.
 */
const ROW_GEOMETRY = `fn segmentOf() -> u32 {
  if (bitcast<u32>(${f(F.inner)}) == 1u && u.rows >= ${RW}u) { return 1u; }
  let perThread = max((u.rowLen + ${ITEMS - 1}u) / ${ITEMS}u, 1u);
  return min(${RW}u, 1u << (32u - countLeadingZeros(perThread - 1u)));
}
fn chunksOf() -> u32 {
  let span = segmentOf() * ${ITEMS}u;
  return (u.rowLen + span - 1u) / span;
}`;

/** The flat index of the k-th element of row `row` (see F.inner). */
const ROW_INDEX = `fn rowIndex(row: u32, k: u32) -> u32 {
  let inner = bitcast<u32>(${f(F.inner)});
  return ((k / inner) * u.rows + row) * inner + k % inner;
}`;

/**
 * FTP per-row sums Σ|c| and Σ g·C_prev into part[(row·cpr + chunk)·2 + j]. Workgroup wg covers chunk
 * (wg mod cpr) of rows (wg div cpr)·(64/L) … + 64/L − 1. 12 B.
 */
export const FTP_ROW_SUMS = (() => {
  const red = reduce(['sum', 'sum'], RW, 'seg');
  return shader(
    'ftpRowSums',
    [r('co'), r('g'), r('cp'), w('part')],
    `${REDUCE_ENTRY}
  let seg = segmentOf();
  let cpr = chunksOf();
  let chunk = wg % cpr;
  let row = (wg / cpr) * (${RW}u / seg) + lid / seg;
  var s: array<f32, 2>;
  if (row < u.rows) {
    for (var it = 0u; it < ${ITEMS}u; it++) {
      let k = (chunk * ${ITEMS}u + it) * seg + lid % seg;
      if (k < u.rowLen) {
        let e = rowIndex(row, k);
        s[0] = s[0] + abs(co[e]);
        s[1] = s[1] + g[e] * cp[e];
      }
    }
  }
  ${red.code}
  if (lid % seg == 0u && row < u.rows) {
    part[(row * cpr + chunk) * 2u] = red[lid][0];
    part[(row * cpr + chunk) * 2u + 1u] = red[lid][1];
  }
}`,
    `${red.decl}\n${ROW_GEOMETRY}\n${ROW_INDEX}`,
  );
})();

/** A TS constant as a WGSL f32 literal (the constants live once, in hyper-adam.ts). */
function lit(x: number): string {
  const s = String(x);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

/** The scalar hyper-Adam of FTP's γ and DiGraP's strengths, with the constants of `HYPER`. */
const HYPER_ADAM = `fn hyper(x: f32, m: f32, v: f32, h: f32) -> vec3<f32> {
  let m2 = ${lit(HYPER.beta1)} * m + ${lit(1 - HYPER.beta1)} * h;
  let v2 = ${lit(HYPER.beta2)} * v + ${lit(1 - HYPER.beta2)} * (h * h);
  let mh = m2 / ${f(F.bc1)};
  let vh = v2 / ${f(F.bc2)};
  return vec3<f32>(x - ${lit(HYPER.lr)} * mh / (sqrt(vh) + ${lit(HYPER.epsilon)}), m2, v2);
}`;

/** Sums K partials per workgroup into s (one workgroup, dispatched alone). */
function sumPartials(k: number): string {
  return `var s: array<f32, ${k}>;
  for (var p = lid; p < u.parts; p = p + ${RW}u) {
    for (var j = 0u; j < ${k}u; j++) { s[j] = s[j] + part[p * ${k}u + j]; }
  }`;
}

const SCALAR_ENTRY = `@compute @workgroup_size(${RW})
fn main(@builtin(local_invocation_index) lid: u32) {`;

/** SPD: κ = −⟨g, θ − a⟩, r = clamp((‖q − a‖ − ‖θ − a‖)/‖q − a‖, 0, 1) (0 when ‖q − a‖ = 0), s = λr if κ < 0. */
export const SPD_SCALARS = (() => {
  const red = reduce(['sum', 'sum', 'sum'], RW);
  return shader(
    'spdScalars',
    [r('part'), w('coef')],
    `${SCALAR_ENTRY}
  ${sumPartials(3)}
  ${red.code}
  if (lid == 0u) {
    let cond = -red[0][0];
    let nq = sqrt(red[0][1]);
    var ratio = 0.0;
    if (nq > 0.0) { ratio = clamp((nq - sqrt(red[0][2])) / nq, 0.0, 1.0); }
    var decay = 0.0;
    if (cond < 0.0) { decay = ${f(F.hyper)} * ratio; }
    coef[0] = cond;
    coef[1] = ratio;
    coef[2] = decay;
  }
}`,
    red.decl,
  );
})();

/** SPD decay, in place on θ' only where the device decided so: θ' = (1 − s)·q + s·a. 0 or 12 B. */
export const SPD_DECAY = shader(
  'spdDecay',
  [r('an'), w('q')],
  `${ENTRY}
  if (i >= u.n) { return; }
  let s = ${f(F.coef + 2)};
  // A kept step never decays: its θ' = θ makes r = 0 (and a NaN κ is not < 0), so s = 0 here.
  if (s == 0.0) { return; }
  q[i] = (1.0 - s) * q[i] + s * an[i];
}`,
);

/**
 * FTP's rows and γ (one workgroup): n_r = Σ|c| + 1e-8 per row, R = 1/n_r stored; then
 * h = Σ_r R_prev[r]·Σ g·C_prev, γ ← clamp(hyperAdam(γ, k·h if h > 0 else h), 1e-8, max n_r).
 * coef = [γ, m_γ, v_γ]; `sin` holds last step's [γ, m_γ, v_γ]. A kept step keeps R_prev and those.
 */
export const FTP_SCALARS = (() => {
  const red = reduce(['max', 'sum'], RW);
  return flagged(
    'ftpScalars',
    [r('part'), r('rp'), r('sin'), w('ro'), w('coef')],
    (kept) => `${SCALAR_ENTRY}
  let cpr = chunksOf();
  var s: array<f32, 2>;
  for (var row = lid; row < u.rows; row = row + ${RW}u) {
    var l1 = 0.0;
    var h = 0.0;
    for (var c = 0u; c < cpr; c++) {
      l1 = l1 + part[(row * cpr + c) * 2u];
      h = h + part[(row * cpr + c) * 2u + 1u];
    }
    let n = l1 + ${lit(FTP_EPS)};
    if (${kept} && ${f(F.keepA)} == 1.0) { ro[row] = rp[row]; } else { ro[row] = 1.0 / n; }
    s[0] = max(s[0], n);
    if (${f(F.usePrev)} != 0.0) { s[1] = s[1] + h * rp[row]; }
  }
  ${red.code}
  if (lid == 0u) {
    var gamma = ${lit(FTP_GAMMA0)};
    var gm = 0.0;
    var gv = 0.0;
    if (${f(F.first)} == 0.0) {
      if (${f(F.hasScalars)} != 0.0) { gamma = sin[0]; gm = sin[1]; gv = sin[2]; }
      var h = red[0][1];
      if (h > 0.0) { h = ${f(F.anneal)} * h; }
      let next = hyper(gamma, gm, gv, h);
      gamma = min(max(next.x, ${lit(FTP_GAMMA0)}), red[0][0]);
      gm = next.y;
      gv = next.z;
    }
    if (${kept} && ${f(F.hasScalars)} != 0.0) { gamma = sin[0]; gm = sin[1]; gv = sin[2]; }
    coef[0] = gamma;
    coef[1] = gm;
    coef[2] = gv;
  }
}`,
    `${red.decl}\n${HYPER_ADAM}\n${ROW_GEOMETRY}`,
  );
})();

/** FTP projection: θ' = θ₀ + clamp(γ·R[row], 0, 1)·c. 12 B. A kept step: θ' = θ, c = C_prev. */
export const FTP_PROJECT = flagged(
  'ftpProject',
  [r('an'), w('co'), r('ro'), w('tho'), r('th'), r('cp')],
  (kept) => `${ENTRY}
  if (i >= u.n) { return; }
  if (${kept}) {
    tho[i] = th[i];
    if (${f(F.keepB)} == 1.0) { co[i] = cp[i]; }
    return;
  }
  let b = clamp(${f(F.coef)} * ro[(i / bitcast<u32>(${f(F.inner)})) % u.rows], 0.0, 1.0);
  tho[i] = an[i] + b * co[i];
}`,
);

/**
 * DiGraP's strengths and coefficients (one workgroup). `sin` holds last step's
 * [ω_loss, ω_reg, m_loss, v_loss, m_reg, v_reg]. coef = [dot, ω_loss, ω_reg, m_loss, v_loss, m_reg,
 * v_reg, gs, cs, α, β]: ĝ = gs·g + cs·c, P = α·c, Q = β·g.
 */
export const DIGRAP_SCALARS = (() => {
  const red = reduce(['sum', 'sum', 'sum', 'sum', 'sum'], RW);
  return flagged(
    'digrapScalars',
    [r('part'), r('sin'), w('coef')],
    (kept) => `${SCALAR_ENTRY}
  ${sumPartials(5)}
  ${red.code}
  if (lid == 0u) {
    let lambda = ${f(F.hyper)};
    let dot = red[0][0];
    var hl = 0.0;
    var hr = 0.0;
    if (${f(F.usePrev)} != 0.0) { hl = red[0][3]; hr = red[0][4]; }
    var st = array<f32, 6>(0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    if (${f(F.first)} == 0.0) {
      if (${f(F.hasScalars)} != 0.0) { for (var j = 0u; j < 6u; j++) { st[j] = sin[j]; } }
      let lr = ${f(F.lrPrev)};
      let sl = hyper(st[0], st[2], st[3], lr * hl);
      let sr = hyper(st[1], st[4], st[5], lambda * lr * hr);
      st = array<f32, 6>(clamp(sl.x, 0.0, 1.0), clamp(sr.x, 0.0, 1.0), sl.y, sl.z, sr.y, sr.z);
    }
    let alpha = dot / (red[0][2] + ${lit(DIGRAP_EPS)});
    let beta = dot / (red[0][1] + ${lit(DIGRAP_EPS)});
    var gs = 1.0;
    var cs = lambda;
    if (dot < 0.0 && lambda != 0.0) {
      gs = 1.0 - lambda * st[1] * beta;
      cs = lambda - st[0] * alpha;
    }
    if (${kept} && ${f(F.hasScalars)} != 0.0) { for (var j = 0u; j < 6u; j++) { st[j] = sin[j]; } }
    coef[0] = dot;
    for (var j = 0u; j < 6u; j++) { coef[1u + j] = st[j]; }
    coef[7] = gs;
    coef[8] = cs;
    coef[9] = alpha;
    coef[10] = beta;
  }
}`,
    `${red.decl}\n${HYPER_ADAM}`,
  );
})();

/**
 * DiGraP's new state: P = α·c, Q = β·g (a pass of its own: one more output would pass 8 bindings);
 * a kept step keeps P_prev, Q_prev (`pp`, `qp`; stand-ins when absent). 20 B.
 */
export const DIGRAP_STATE = flagged(
  'digrapState',
  [r('th'), r('g'), r('an'), r('pp'), r('qp'), w('po'), w('qo')],
  (kept) => `${ENTRY}
  if (i >= u.n) { return; }
  var p = ${f(F.coef + 9)} * (th[i] - an[i]);
  var q = ${f(F.coef + 10)} * g[i];
  if (${kept}) {
    if (${f(F.keepA)} == 1.0) { p = pp[i]; }
    if (${f(F.keepB)} == 1.0) { q = qp[i]; }
  }
  po[i] = p;
  qo[i] = q;
}`,
);

/** Tensors one finiteness pass checks (7 inputs + the flag = WebGPU's default 8 storage buffers). */
export const FINITE_GROUP = 7;

/** The flag's initial value, 1.0f as u32 bits (the passes store 0u = 0.0f on a NaN/±Inf). */
const ONE_BITS = '0x3f800000u';

/** Writes 1.0 into the finiteness flag (one thread, before the check passes). */
export const FINITE_INIT: ShaderSource = {
  key: 'finiteInit',
  bindings: ['flag'],
  code: `struct U { n: u32, rows: u32, rowLen: u32, parts: u32, f: array<vec4<u32>, 15> }
@group(0) @binding(0) var<uniform> u: U;
@group(0) @binding(1) var<storage, read_write> flag: array<atomic<u32>>;
@compute @workgroup_size(1)
fn main() {
  // Reads the uniform so that 'auto' layout keeps binding 0 (an unused binding is dropped from it).
  atomicStore(&flag[0], ${ONE_BITS} + u.n * 0u);
}`,
};

/**
 * Checks `k` (≤ FINITE_GROUP) tensors in one dispatch whose workgroups are laid end to end over them:
 * tensor j has partsFor(size j) workgroups starting at workgroup start(j) (sizes as u32 at F(0…k−1),
 * starts at F(FINITE_GROUP…)), so a workgroup reads REDUCE_SPAN elements of one tensor and the pass
 * does Σ sizes element checks. (Sizing every tensor of the group to the largest one cost 5.2× that on
 * ResNet-18's shapes, ~1 s of SwiftShader's CPU a step.) Any NaN/±Inf stores 0.0 into the flag. The
 * test is on the bits (all-ones exponent), which no fast-math assumption about NaN can fold away; the
 * stores are atomic, so many workgroups finding one need no reduction and no partials.
 */
export function finiteCheck(k: number, into: 'flag' | 'callFlag' = 'flag'): ShaderSource {
  const key = `${into}${k}`;
  let source = finiteChecks.get(key);
  if (!source) {
    source = finiteCheckSource(k, into);
    finiteChecks.set(key, source);
  }
  return source;
}

const finiteChecks = new Map<string, ShaderSource>();

/**
 * `into` 'flag': the 0-d float flag at binding k + 1 (FINITE_INIT wrote 1.0; a NaN/±Inf stores 0.0).
 * 'callFlag': a fused call's flag texture instead (a NaN/±Inf stores 1, as FLAG_CHECK does), for the
 * small gradients a fused call tests before their passes (`precheck` in kernels.ts).
 */
function finiteCheckSource(k: number, into: 'flag' | 'callFlag'): ShaderSource {
  const names = Array.from({ length: k }, (_, j) => `x${j}`);
  const decls = names
    .map((n, j) => `@group(0) @binding(${j + 1}) var<storage, read> ${n}: array<f32>;`)
    .join('\n');
  // WGSL cannot index a list of storage buffers, so each tensor has its own case of the same loop.
  const cases = names
    .map(
      (n, j) => `${j === k - 1 ? `case ${j}u, default` : `case ${j}u`}: {
      for (var it = 0u; it < ${ITEMS}u; it++) {
        let i = base + it * ${RW}u + lid;
        if (i < n) { if (nonFinite(${n}[i])) { found = true; } }
      }
    }`,
    )
    .join('\n    ');
  const toFlag = into === 'flag';
  return {
    key: toFlag ? `finiteCheck${k}` : `finiteCheckCall${k}`,
    bindings: toFlag ? [...names, 'flag'] : names,
    ...(toFlag ? {} : { flag: 'write' as const }),
    code: `struct U { n: u32, rows: u32, rowLen: u32, parts: u32, f: array<vec4<u32>, 15> }
@group(0) @binding(0) var<uniform> u: U;
${decls}
${toFlag ? `@group(0) @binding(${k + 1}) var<storage, read_write> flag: array<atomic<u32>>;\n${NON_FINITE}` : flagDecl('write', k)}
fn word(w: u32) -> u32 { return u.f[w >> 2u][w & 3u]; }
${REDUCE_ENTRY}
  // This workgroup's tensor: the last whose first workgroup is ≤ wg (an empty tensor has none).
  var j = 0u;
  for (var t = 1u; t < ${k}u; t++) { if (wg >= word(${FINITE_GROUP}u + t)) { j = t; } }
  let base = (wg - word(${FINITE_GROUP}u + j)) * ${REDUCE_SPAN}u;
  let n = word(j);
  var found = false;
  switch j {
    ${cases}
  }
  if (found) { ${toFlag ? 'atomicStore(&flag[0], 0u);' : STORE_SEEN} }
}`,
  };
}

/** The u32 uniform layout of the guard's own shaders (words at `word(k)`, as in `finiteCheck`). */
const U32_PRELUDE = `struct U { n: u32, rows: u32, rowLen: u32, parts: u32, f: array<vec4<u32>, 15> }
@group(0) @binding(0) var<uniform> u: U;
fn word(w: u32) -> u32 { return u.f[w >> 2u][w & 3u]; }`;

/**
 * The end of a call whose passes checked g themselves (one workgroup, after every pass): writes the
 * call's flag output (1.0 when no pass saw a NaN/±Inf, else 0.0) and, on a good step, zeroes the x
 * count of each of the u.n indirect RESTORE dispatches that follow (the host wrote [x, 1, 1] each), so
 * a good step dispatches no restore workgroup.
 */
export const FINITE_FINAL: ShaderSource = {
  key: 'finiteFinal',
  bindings: ['args', 'out'],
  flag: 'read',
  code: `${U32_PRELUDE}
@group(0) @binding(1) var<storage, read_write> args: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
${flagDecl('read', 2)}
@compute @workgroup_size(${RW})
fn main(@builtin(local_invocation_index) lid: u32) {
  let bad = textureLoad(flag, vec2<i32>(0, 0), 0).x != 0u;
  if (lid == 0u) { out[0] = select(1.0, 0.0, bad); }
  if (!bad) {
    for (var k = lid; k < u.n; k = k + ${RW}u) { args[3u * k] = 0u; }
  }
}`,
};

/**
 * After every pass that checks g (one thread): copies the flag texture's word into the call's `seen`
 * buffer (nonzero: a check saw a NaN/±Inf), which the passes after the checks read as a uniform.
 */
export const PUBLISH_SEEN: ShaderSource = {
  key: 'publishSeen',
  bindings: ['seen'],
  flag: 'read',
  code: `${U32_PRELUDE}
@group(0) @binding(1) var<storage, read_write> seen: array<u32>;
${flagDecl('read', 1)}
@compute @workgroup_size(1)
fn main() {
  // Reads the uniform so that 'auto' layout keeps binding 0 (as FINITE_INIT does).
  seen[0] = textureLoad(flag, vec2<i32>(0, 0), 0).x + u.n * 0u;
}`,
};

/** Input → output pairs one RESTORE dispatch copies (2 storage buffers each, 8 in all). */
export const RESTORE_PAIRS = 4;

/**
 * Most workgroups of one RESTORE dispatch (262144 threads); its grid-stride loop covers larger tensors.
 * A bad step is rare: this bounds its idle workgroups, not a good step's cost (0 there).
 */
export const RESTORE_GROUPS = 1024;

/**
 * Copies up to RESTORE_PAIRS inputs into their outputs (element counts as u32 at word(0…k−1)) with a
 * grid-stride loop: a bad step's batch-wide keep, dispatched indirectly with the count FINITE_FINAL
 * left (0 on a good step). Pairs of any sizes share a dispatch; its x count covers the largest.
 */
export function restore(k: number): ShaderSource {
  let source = restores.get(k);
  if (!source) {
    const names = Array.from({ length: k }, (_, j) => [`src${j}`, `dst${j}`]).flat();
    const decls = names
      .map(
        (n, j) =>
          `@group(0) @binding(${j + 1}) var<storage, ${j % 2 ? 'read_write' : 'read'}> ${n}: array<f32>;`,
      )
      .join('\n');
    const copies = Array.from(
      { length: k },
      (_, j) => `for (var e = gid.x; e < word(${j}u); e = e + stride) { dst${j}[e] = src${j}[e]; }`,
    ).join('\n  ');
    source = {
      key: `restore${k}`,
      bindings: names,
      code: `${U32_PRELUDE}
${decls}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let stride = nwg.x * ${WORKGROUP}u;
  ${copies}
}`,
    };
    restores.set(k, source);
  }
  return source;
}

const restores = new Map<number, ShaderSource>();
