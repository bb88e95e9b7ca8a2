// Top-k selection over a non-negative f32 vector (SSAM's Fisher information), as a radix select
// on the values' bits: for non-negative floats the u32 bit patterns sort like the values. Four
// rounds of 8 bits from the top; each round HISTOGRAM counts (integer atomics: the counts do not
// depend on the order of the adds, so the result is deterministic) the elements that match the
// prefix chosen so far, SELECT (one invocation) picks the byte where the running count from the
// top reaches the elements still wanted and clears the bins. After the last round chosen_bits[0]
// holds the bit pattern of the k-th largest value; MASK keeps every element ≥ it (ties at the
// threshold are all kept).
//
// chosen_bits = [prefix, prefix_mask, remaining, 0]; INIT sets it to [0, 0, K, 0] (with
// K_FROM_COUNTS, K = counts[COUNT_INDEX], written by the host when K changes from step to step).
//
// Exactly K (SSAM-D): after the rounds, `remaining` says how many of the elements equal to the
// threshold are still wanted. TIE_COUNT counts the equal elements of each 256-element chunk,
// TIE_SCAN (one invocation) turns the counts into each chunk's first rank, and MASK_EXACT keeps
// the elements above the threshold and the first `remaining` equal ones in index order: the lower
// index wins a tie, on every adapter.

override LEN: u32;
override K: u32 = 0u;
override SHIFT: u32 = 24u;
override COUNT_INDEX: u32 = 0u;
override CHUNKS: u32 = 1u;

//#if HISTOGRAM
@group(0) @binding(0) var<storage, read> values: array<f32>;
@group(0) @binding(1) var<storage, read> chosen_bits: array<u32>;
@group(0) @binding(2) var<storage, read_write> bins: array<atomic<u32>, 256>;
//#endif
//#if SELECT
@group(0) @binding(0) var<storage, read_write> chosen_bits: array<u32>;
@group(0) @binding(1) var<storage, read_write> bins: array<u32, 256>;
//#endif
//#if INIT
@group(0) @binding(0) var<storage, read_write> chosen_bits: array<u32>;
//#if K_FROM_COUNTS
@group(0) @binding(1) var<storage, read> counts: array<u32>;
//#endif
//#endif
//#if MASK
@group(0) @binding(0) var<storage, read> values: array<f32>;
@group(0) @binding(1) var<storage, read> chosen_bits: array<u32>;
@group(0) @binding(2) var<storage, read_write> mask: array<f32>;
//#endif
//#if TIE_COUNT
@group(0) @binding(0) var<storage, read> values: array<f32>;
@group(0) @binding(1) var<storage, read> chosen_bits: array<u32>;
@group(0) @binding(2) var<storage, read_write> tie_counts: array<u32>;
var<workgroup> equal_in_chunk: atomic<u32>;
//#endif
//#if TIE_SCAN
@group(0) @binding(0) var<storage, read_write> tie_counts: array<u32>;
//#endif
//#if MASK_EXACT
@group(0) @binding(0) var<storage, read> values: array<f32>;
@group(0) @binding(1) var<storage, read> chosen_bits: array<u32>;
@group(0) @binding(2) var<storage, read> tie_counts: array<u32>;
@group(0) @binding(3) var<storage, read_write> mask: array<f32>;
var<workgroup> equal_flags: array<u32, 256>;
//#endif

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let i = (wg.y * nwg.x + wg.x) * 256u + lane;
//#if INIT
    if (i == 0u) {
        chosen_bits[0] = 0u;
        chosen_bits[1] = 0u;
//#if K_FROM_COUNTS
        chosen_bits[2] = min(counts[COUNT_INDEX], LEN);
//#else
        chosen_bits[2] = K;
//#endif
        chosen_bits[3] = 0u;
    }
//#endif
//#if HISTOGRAM
    if (i >= LEN) { return; }
    let key = bitcast<u32>(values[i]);
    if ((key & chosen_bits[1]) == chosen_bits[0]) {
        atomicAdd(&bins[(key >> SHIFT) & 255u], 1u);
    }
//#endif
//#if SELECT
    if (i != 0u) { return; }
    let remaining = chosen_bits[2];
    var above = 0u;
    var chosen = 0u;
    for (var b = 255; b >= 0; b = b - 1) {
        let count = bins[u32(b)];
        if (above + count >= remaining) {
            chosen = u32(b);
            break;
        }
        above = above + count;
    }
    chosen_bits[0] = chosen_bits[0] | (chosen << SHIFT);
    chosen_bits[1] = chosen_bits[1] | (255u << SHIFT);
    chosen_bits[2] = remaining - above;
    for (var b = 0u; b < 256u; b = b + 1u) { bins[b] = 0u; }
//#endif
//#if MASK
    if (i >= LEN) { return; }
    mask[i] = select(0.0, 1.0, bitcast<u32>(values[i]) >= chosen_bits[0]);
//#endif
//#if TIE_COUNT
    // One workgroup per chunk of 256 elements (a 1-D grid: chunk = workgroup index).
    let chunk = wg.y * nwg.x + wg.x;
    if (lane == 0u) { atomicStore(&equal_in_chunk, 0u); }
    workgroupBarrier();
    if (i < LEN && bitcast<u32>(values[i]) == chosen_bits[0]) {
        atomicAdd(&equal_in_chunk, 1u);
    }
    workgroupBarrier();
    if (lane == 0u) { tie_counts[chunk] = atomicLoad(&equal_in_chunk); }
//#endif
//#if TIE_SCAN
    if (i != 0u) { return; }
    var before = 0u;
    for (var c = 0u; c < CHUNKS; c = c + 1u) {
        let count = tie_counts[c];
        tie_counts[c] = before;
        before = before + count;
    }
//#endif
//#if MASK_EXACT
    let chunk = wg.y * nwg.x + wg.x;
    var bits = 0u;
    var equal = 0u;
    if (i < LEN) {
        bits = bitcast<u32>(values[i]);
        equal = select(0u, 1u, bits == chosen_bits[0]);
    }
    equal_flags[lane] = equal;
    workgroupBarrier();
    if (i >= LEN) { return; }
    var rank = tie_counts[chunk];
    for (var l = 0u; l < lane; l = l + 1u) { rank = rank + equal_flags[l]; }
    let above = bits > chosen_bits[0];
    let wanted_tie = equal == 1u && rank < chosen_bits[2];
    mask[i] = select(0.0, 1.0, above || wanted_tie);
//#endif
}
