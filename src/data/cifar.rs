//! CIFAR-10 in its official binary form.
//!
//! `cifar-10-binary.tar.gz` (<https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz>) holds
//! `cifar-10-batches-bin/data_batch_1.bin` .. `data_batch_5.bin` (training), `test_batch.bin`
//! and `batches.meta.txt` (the class names). Every batch is a run of 3,073-byte records:
//!
//! | bytes | what |
//! |---|---|
//! | 1 | label, 0..9 ([`CLASS_NAMES`]) |
//! | 1024 | red plane, 32×32 row-major |
//! | 1024 | green plane |
//! | 1024 | blue plane |
//!
//! so a [`Split`] keeps the 3,072 pixel bytes of each image in that CHW order.
//!
//! [`read_archive`] takes the `.tar.gz` or a plain `.tar`, [`read_batches`] loose `.bin` files;
//! both recognise the batches by file name whatever the directory. The tar stream is read as it
//! is decompressed, so only the batches are ever held in memory, and every size is checked
//! before anything is allocated for it: a truncated or hostile archive ends in a [`DataError`],
//! never a panic or a huge allocation. Nothing here touches the file system except
//! [`load_dir`] (native only).

use std::io::{self, Read};

use super::idx::{gunzip, is_gzip, DataError, MAX_PAYLOAD_BYTES};
use super::Split;
use crate::rng::Rng;

/// Number of classes.
pub const CLASSES: usize = 10;
/// Pixel bytes per image: 3 channels of 32×32.
pub const FEATURES: usize = 3 * PLANE;
/// Bytes per record in a batch file: the label, then the pixels.
pub const RECORD_LEN: usize = 1 + FEATURES;
/// Name of the official archive.
pub const ARCHIVE_NAME: &str = "cifar-10-binary.tar.gz";
/// Where the official archive is published.
pub const ARCHIVE_URL: &str = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";
/// Class names in label order (as in `batches.meta.txt`).
pub const CLASS_NAMES: [&str; CLASSES] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// Bytes per channel plane (32×32).
const PLANE: usize = 32 * 32;
/// The official tar is about 185 MB; a stream that unpacks to more than this is not CIFAR-10
/// (and may be a gzip bomb), so reading stops there. A batch entry is read whole and then copied
/// into its split, so reading peaks at about twice this (fuzzing found 1 GiB archives peaking at
/// 2 GiB, docs/reliability.md).
pub const MAX_TAR_BYTES: u64 = 256 << 20;
/// An official batch (10,000 records): the most reserved for an entry before its data arrives.
const OFFICIAL_BATCH_BYTES: usize = 10_000 * RECORD_LEN;
/// Largest GNU long-name or pax entry read for a file name; larger ones are skipped unread.
const MAX_NAME_EXTENSION: u64 = 64 * 1024;
/// Tar block size: headers and entry data are padded to it.
const TAR_BLOCK: u64 = 512;
/// PCG32 stream of [`stratified_subset`] (see `src/rng.rs`).
const SUBSET_STREAM: u64 = 5;

/// Parses one batch file (`data_batch_N.bin` or `test_batch.bin`); `file_name` is only used in
/// error messages.
pub fn parse_batch(bytes: &[u8], file_name: &str) -> Result<Split, DataError> {
    let mut split = empty_split();
    append_batch(&mut split, bytes, file_name)?;
    Ok(split)
}

/// Reads the official archive, gzip-compressed (`1f 8b`) or a plain tar: `data_batch_N.bin`
/// (all that are present, in numeric order, at least one) become the training split and
/// `test_batch.bin` the test split, wherever they are in the archive; other entries are skipped.
pub fn read_archive(bytes: &[u8]) -> Result<(Split, Split), DataError> {
    read_archive_with_limit(bytes, MAX_TAR_BYTES)
}

/// Reads loose batch files given as `(name, bytes)` (what a page gets when a user picks the
/// `.bin` files), classified by file name like [`read_archive`]; files with other names are
/// ignored.
pub fn read_batches<N: AsRef<str>, B: AsRef<[u8]>>(
    files: &[(N, B)],
) -> Result<(Split, Split), DataError> {
    let mut batches = Batches::default();
    for (name, bytes) in files {
        if let Some(role) = role_of(name.as_ref()) {
            batches.add(role, name.as_ref(), bytes.as_ref())?;
        }
    }
    batches.finish(|| {
        let names: Vec<&str> = files.iter().map(|(name, _)| name.as_ref()).collect();
        describe(&names, ["file", "files", "an empty list of files"])
    })
}

/// `per_class` images of each of the [`CLASSES`] classes, in file order.
///
/// The choice is reproducible: with PCG32 `Rng::new(seed, 5)`, for class 0, 1, .., 9 in turn the
/// indices of that class (ascending) are Fisher–Yates shuffled (`Rng::shuffle`) and the first
/// `per_class` kept; the kept indices of all classes are then sorted.
pub fn stratified_subset(split: &Split, per_class: usize, seed: u64) -> Result<Split, DataError> {
    let mut by_class = vec![Vec::new(); CLASSES];
    for (index, &label) in split.labels.iter().enumerate() {
        if let Some(members) = by_class.get_mut(label as usize) {
            members.push(index);
        }
    }
    let max_per_class = by_class.iter().map(Vec::len).min().unwrap_or(0);
    if let Some((class, members)) = by_class
        .iter()
        .enumerate()
        .find(|(_, members)| members.len() < per_class)
    {
        return Err(DataError::SubsetTooSmall {
            class: class as u8,
            asked: per_class,
            available: members.len(),
            max_per_class,
        });
    }
    let mut rng = Rng::new(seed, SUBSET_STREAM);
    let mut chosen = Vec::with_capacity(per_class * CLASSES);
    for members in &mut by_class {
        rng.shuffle(members);
        chosen.extend_from_slice(&members[..per_class]);
    }
    chosen.sort_unstable();

    let features = split.features;
    let mut subset = Split {
        pixels: Vec::with_capacity(chosen.len() * features),
        labels: Vec::with_capacity(chosen.len()),
        count: chosen.len(),
        features,
    };
    for &index in &chosen {
        subset.labels.push(split.labels[index]);
        subset
            .pixels
            .extend_from_slice(&split.pixels[index * features..(index + 1) * features]);
    }
    Ok(subset)
}

/// Per-channel (R, G, B) mean and population standard deviation of `pixel / 255` over a split
/// of CHW images, for normalising `(x / 255 − mean[c]) / std[c]`. An empty split gives zeros.
///
/// Panics if `split.features` is not 3 equal planes (a programming error: CIFAR splits have 3072).
pub fn channel_stats(split: &Split) -> ([f32; 3], [f32; 3]) {
    assert!(
        split.features > 0 && split.features.is_multiple_of(3),
        "channel_stats needs 3-channel CHW images, got {} features",
        split.features
    );
    let plane = split.features / 3;
    // A histogram per channel keeps the sums exact and the loop cheap.
    let mut histograms = [[0u64; 256]; 3];
    for image in split.pixels.chunks_exact(split.features) {
        for (histogram, channel) in histograms.iter_mut().zip(image.chunks_exact(plane)) {
            for &p in channel {
                histogram[p as usize] += 1;
            }
        }
    }
    let mut mean = [0f32; 3];
    let mut std = [0f32; 3];
    for (c, histogram) in histograms.iter().enumerate() {
        let n = histogram.iter().sum::<u64>() as f64;
        if n == 0.0 {
            continue;
        }
        let bins = || {
            histogram
                .iter()
                .enumerate()
                .map(|(v, &k)| (v as f64 / 255.0, k as f64))
        };
        let m = bins().map(|(x, k)| x * k).sum::<f64>() / n;
        let variance = bins().map(|(x, k)| (x - m) * (x - m) * k).sum::<f64>() / n;
        mean[c] = m as f32;
        std[c] = variance.sqrt() as f32;
    }
    (mean, std)
}

/// Loads CIFAR-10 from `dir`: `cifar-10-binary.tar.gz` (or `cifar-10-binary.tar`) if there,
/// else the loose batches in `dir/cifar-10-batches-bin/`, else those in `dir` itself.
#[cfg(not(target_arch = "wasm32"))]
pub fn load_dir(dir: &std::path::Path) -> Result<(Split, Split), DataError> {
    for name in [ARCHIVE_NAME, "cifar-10-binary.tar"] {
        let path = dir.join(name);
        match std::fs::read(&path) {
            Ok(bytes) => {
                return read_archive(&bytes).map_err(|e| DataError::InFile {
                    path,
                    source: Box::new(e),
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(DataError::Io { path, source: e }),
        }
    }
    for folder in [dir.join("cifar-10-batches-bin"), dir.to_path_buf()] {
        let paths = batch_files_in(&folder)?;
        if paths.is_empty() {
            continue;
        }
        let mut files = Vec::with_capacity(paths.len());
        for path in paths {
            let bytes = std::fs::read(&path).map_err(|e| DataError::Io {
                path: path.clone(),
                source: e,
            })?;
            files.push((path.display().to_string(), bytes));
        }
        return read_batches(&files);
    }
    Err(DataError::CifarNotFound {
        dir: dir.to_path_buf(),
    })
}

/// The files in `folder` named like a batch (none if the folder does not exist), sorted.
#[cfg(not(target_arch = "wasm32"))]
fn batch_files_in(folder: &std::path::Path) -> Result<Vec<std::path::PathBuf>, DataError> {
    let io_error = |e| DataError::Io {
        path: folder.to_path_buf(),
        source: e,
    };
    let listing = match std::fs::read_dir(folder) {
        Ok(listing) => listing,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(e)),
    };
    let mut paths = Vec::new();
    for item in listing {
        let path = item.map_err(io_error)?.path();
        let is_batch = path.file_name().and_then(|n| n.to_str()).and_then(role_of);
        if is_batch.is_some() && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

fn empty_split() -> Split {
    Split {
        pixels: Vec::new(),
        labels: Vec::new(),
        count: 0,
        features: FEATURES,
    }
}

/// Checks one batch file and appends its records to `split`.
fn append_batch(split: &mut Split, bytes: &[u8], file_name: &str) -> Result<(), DataError> {
    if bytes.is_empty() {
        return Err(DataError::EmptyBatch {
            file: file_name.to_string(),
        });
    }
    let (records, leftover) = (bytes.len() / RECORD_LEN, bytes.len() % RECORD_LEN);
    if leftover != 0 {
        return Err(DataError::TruncatedRecord {
            file: file_name.to_string(),
            records,
            leftover,
        });
    }
    if let Some((record, &value)) = bytes
        .iter()
        .step_by(RECORD_LEN)
        .enumerate()
        .find(|(_, &label)| label as usize >= CLASSES)
    {
        return Err(DataError::CifarLabel {
            file: file_name.to_string(),
            record,
            value,
        });
    }
    split.labels.reserve(records);
    split.pixels.reserve(records * FEATURES);
    for record in bytes.chunks_exact(RECORD_LEN) {
        split.labels.push(record[0]);
        split.pixels.extend_from_slice(&record[1..]);
    }
    split.count += records;
    Ok(())
}

/// What a file is, by its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// `data_batch_N.bin`
    Train(u32),
    /// `test_batch.bin`
    Test,
}

fn base_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

fn role_of(path: &str) -> Option<Role> {
    let name = base_name(path);
    if name == "test_batch.bin" {
        return Some(Role::Test);
    }
    let number = name.strip_prefix("data_batch_")?.strip_suffix(".bin")?;
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    number.parse().ok().map(Role::Train)
}

/// The training batches of one run, appended to one split as they arrive.
struct TrainBatch {
    number: u32,
    path: String,
    count: usize,
}

/// Batches collected from an archive or a set of files.
#[derive(Default)]
struct Batches {
    train: Option<Split>,
    train_batches: Vec<TrainBatch>,
    test: Option<(String, Split)>,
}

impl Batches {
    fn add(&mut self, role: Role, path: &str, bytes: &[u8]) -> Result<(), DataError> {
        let first = match role {
            Role::Train(n) => self
                .train_batches
                .iter()
                .find(|b| b.number == n)
                .map(|b| &b.path),
            Role::Test => self.test.as_ref().map(|(first, _)| first),
        };
        if let Some(first) = first {
            return Err(DataError::DuplicateBatch {
                name: base_name(path).to_string(),
                first: first.clone(),
                second: path.to_string(),
            });
        }
        match role {
            Role::Train(number) => {
                let train = self.train.get_or_insert_with(empty_split);
                let before = train.count;
                append_batch(train, bytes, path)?;
                self.train_batches.push(TrainBatch {
                    number,
                    path: path.to_string(),
                    count: train.count - before,
                });
            }
            Role::Test => self.test = Some((path.to_string(), parse_batch(bytes, path)?)),
        }
        Ok(())
    }

    /// The (train, test) splits; `looked_in` describes where the batches were looked for.
    fn finish(mut self, looked_in: impl Fn() -> String) -> Result<(Split, Split), DataError> {
        let Some(mut train) = self.train.take() else {
            return Err(DataError::MissingBatch {
                what: "training batch (data_batch_1.bin .. data_batch_5.bin)",
                looked_in: looked_in(),
            });
        };
        let Some((_, test)) = self.test.take() else {
            return Err(DataError::MissingBatch {
                what: "test batch (test_batch.bin)",
                looked_in: looked_in(),
            });
        };
        order_batches(&mut train, &mut self.train_batches);
        Ok((train, test))
    }
}

/// Puts the training batches, appended in arrival order, into numeric order in place (rotating
/// each next batch into position), so an archive in any order costs no second copy.
fn order_batches(train: &mut Split, batches: &mut [TrainBatch]) {
    let mut start = 0;
    for i in 0..batches.len() {
        let Some(next) = (i..batches.len()).min_by_key(|&j| batches[j].number) else {
            return;
        };
        let next_start = start + batches[i..next].iter().map(|b| b.count).sum::<usize>();
        let next_end = next_start + batches[next].count;
        let count = batches[next].count;
        train.labels[start..next_end].rotate_right(count);
        train.pixels[start * FEATURES..next_end * FEATURES].rotate_right(count * FEATURES);
        batches[i..=next].rotate_right(1);
        start += count;
    }
}

/// "the 3 files (a, b, c)": what the batches were looked for among, for error messages.
/// `[one, many, none]` name the things.
fn describe(names: &[&str], [one, many, none]: [&str; 3]) -> String {
    const SHOWN: usize = 8;
    if names.is_empty() {
        return none.to_string();
    }
    let mut list = names[..names.len().min(SHOWN)].join(", ");
    if names.len() > SHOWN {
        list.push_str(&format!(", and {} more", names.len() - SHOWN));
    }
    let noun = if names.len() == 1 { one } else { many };
    format!("the {} {noun} ({list})", names.len())
}

/// The tar stream: the decompressed (or plain) bytes, failing once more than `limit` come out.
struct TarStream<R> {
    inner: R,
    gzip: bool,
    read: u64,
    limit: u64,
}

impl<R: Read> TarStream<R> {
    /// Reads until `buf` is full or the stream ends; returns how many bytes came. `offset` (where
    /// the header being read or sought starts) is for the message of a failing plain stream.
    fn fill(&mut self, buf: &mut [u8], offset: u64) -> Result<usize, DataError> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) if self.gzip => {
                    return Err(DataError::Gzip {
                        kind: "archive",
                        source,
                    })
                }
                Err(e) => return Err(tar_error(offset, &e.to_string())),
            }
        }
        self.read += filled as u64;
        if self.read > self.limit {
            return Err(DataError::ArchiveTooLarge { limit: self.limit });
        }
        Ok(filled)
    }

    /// Skips `n` bytes of entry data and padding; the stream ending first is an error at `offset`.
    fn skip(&mut self, mut n: u64, offset: u64) -> Result<(), DataError> {
        let mut scratch = [0u8; 8192];
        while n > 0 {
            let want = n.min(scratch.len() as u64) as usize;
            let got = self.fill(&mut scratch[..want], offset)?;
            if got < want {
                return Err(tar_error(offset, "unexpected EOF during skip"));
            }
            n -= got as u64;
        }
        Ok(())
    }
}

fn tar_error(offset: u64, reason: &str) -> DataError {
    DataError::Tar {
        offset,
        reason: reason.to_string(),
    }
}

fn read_archive_with_limit(bytes: &[u8], limit: u64) -> Result<(Split, Split), DataError> {
    if is_gzip(bytes) {
        read_tar(TarStream {
            inner: gunzip(bytes, "archive")?,
            gzip: true,
            read: 0,
            limit,
        })
    } else {
        read_tar(TarStream {
            inner: bytes,
            gzip: false,
            read: 0,
            limit,
        })
    }
}

/// A numeric header field in octal: digits up to the first NUL, spaces around them allowed.
/// `None`: not a number.
fn tar_octal(field: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(until_nul(field)).ok()?;
    u64::from_str_radix(text.trim(), 8).ok()
}

/// The size field: octal, or (GNU, for 8 GiB and more) big-endian base-256 when the first byte
/// has its high bit set. `None`: not a number (or past u64).
fn tar_size(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 == 0 {
        return tar_octal(field);
    }
    let mut value = u64::from(field[0] & 0x7f);
    for &b in &field[1..] {
        value = value.checked_mul(256)?.checked_add(u64::from(b))?;
    }
    Some(value)
}

/// Bytes up to the first NUL.
fn until_nul(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    &bytes[..end]
}

/// An entry's path: a POSIX ustar header's prefix and name, or the name alone (GNU, v7).
fn tar_path(header: &[u8; TAR_BLOCK as usize]) -> String {
    let name = until_nul(&header[0..100]);
    let ustar = &header[257..265] == b"ustar\x0000";
    let prefix = until_nul(&header[345..500]);
    let path = if ustar && !prefix.is_empty() {
        [prefix, b"/", name].concat()
    } else {
        name.to_vec()
    };
    String::from_utf8_lossy(&path).into_owned()
}

/// The `path` of a pax extended header's records (`"<length> <key>=<value>\n"` each); reading
/// stops at the first malformed record.
fn pax_path(mut data: &[u8]) -> Option<&[u8]> {
    while !data.is_empty() {
        let space = data.iter().position(|&b| b == b' ')?;
        let len: usize = std::str::from_utf8(&data[..space]).ok()?.parse().ok()?;
        if len <= space || len > data.len() {
            return None;
        }
        let record = data[space + 1..len].strip_suffix(b"\n")?;
        let eq = record.iter().position(|&b| b == b'=')?;
        if &record[..eq] == b"path" {
            return Some(&record[eq + 1..]);
        }
        data = &data[len..];
    }
    None
}

/// Walks the tar entries (a hand-written reader of the few header fields CIFAR-10 needs: its
/// error messages stay ours, and the wasm carries no tar crate): every header's checksum is
/// verified, a GNU long name or a pax `path` names the next entry, other entries are skipped
/// unread. The archive ends at a zero block or where the stream ends between entries.
fn read_tar<R: Read>(mut stream: TarStream<R>) -> Result<(Split, Split), DataError> {
    let mut batches = Batches::default();
    let mut names = Vec::new();
    let mut long_name: Option<String> = None;
    // Where the next header starts (also in error messages).
    let mut offset = 0u64;
    let mut header = [0u8; TAR_BLOCK as usize];
    loop {
        let got = stream.fill(&mut header, offset)?;
        if got == 0 {
            break;
        }
        if got < header.len() {
            return Err(tar_error(offset, "failed to read entire block"));
        }
        if header.iter().all(|&b| b == 0) {
            break;
        }
        let fault = |reason| move || tar_error(offset, reason);
        let cksum = tar_octal(&header[148..156])
            .ok_or_else(fault("the cksum field of a header is not a number"))?;
        // The checksum is the byte sum of the header with its own field read as spaces.
        let sum: u64 = header.iter().map(|&b| u64::from(b)).sum::<u64>()
            - header[148..156].iter().map(|&b| u64::from(b)).sum::<u64>()
            + 8 * u64::from(b' ');
        if sum != cksum {
            return Err(fault("archive header checksum mismatch")());
        }
        let size = tar_size(&header[124..136])
            .ok_or_else(fault("the size field of a header is not a number"))?;
        let padded = size
            .checked_next_multiple_of(TAR_BLOCK)
            .ok_or_else(fault("size overflow"))?;
        offset = offset.saturating_add(TAR_BLOCK).saturating_add(padded);
        // Entry data consumed so far; the rest (and the padding) is skipped below.
        let mut consumed = 0u64;
        match header[156] {
            // A GNU long name or a pax extended header: the next entry's path, if it has one.
            kind @ (b'L' | b'x') => {
                if size <= MAX_NAME_EXTENSION {
                    let mut data = vec![0u8; size as usize];
                    let n = stream.fill(&mut data, offset)?;
                    data.truncate(n);
                    consumed = n as u64;
                    let name = if kind == b'L' {
                        Some(until_nul(&data))
                    } else {
                        pax_path(&data)
                    };
                    if let Some(name) = name.filter(|name| !name.is_empty()) {
                        long_name = Some(String::from_utf8_lossy(name).into_owned());
                    }
                }
            }
            // A GNU long link name, pax global headers: nothing we use.
            b'K' | b'g' => {}
            kind => {
                let path = long_name.take().unwrap_or_else(|| tar_path(&header));
                // Regular files ('0', and NUL in old tars) and contiguous files ('7').
                if matches!(kind, b'0' | b'\0' | b'7') {
                    if let Some(role) = role_of(&path) {
                        let data = read_entry(&mut stream, &path, size, offset)?;
                        consumed = size;
                        batches.add(role, &path, &data)?;
                    }
                    names.push(path);
                }
            }
        }
        stream.skip(padded - consumed, offset)?;
    }
    if stream.gzip {
        // Read to the end so the decoder checks the gzip CRC and length of everything.
        let mut scratch = [0u8; 8192];
        while stream.fill(&mut scratch, offset)? > 0 {}
    }
    batches.finish(|| {
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        describe(
            &names,
            [
                "archive entry",
                "archive entries",
                "an archive with no files in it",
            ],
        )
    })
}

/// Reads a batch entry whose header declares `declared` bytes.
fn read_entry<R: Read>(
    stream: &mut TarStream<R>,
    path: &str,
    declared: u64,
    offset: u64,
) -> Result<Vec<u8>, DataError> {
    if declared > MAX_PAYLOAD_BYTES as u64 {
        return Err(DataError::EntryTooLarge {
            name: path.to_string(),
            declared,
            limit: MAX_PAYLOAD_BYTES,
        });
    }
    // Reserve no more than an official batch up front: a lying header cannot make us allocate
    // what the stream does not hold.
    let declared_len = declared as usize;
    let mut data = Vec::with_capacity(declared_len.min(OFFICIAL_BATCH_BYTES));
    let mut chunk = [0u8; 8192];
    while data.len() < declared_len {
        let want = (declared_len - data.len()).min(chunk.len());
        let got = stream.fill(&mut chunk[..want], offset)?;
        data.extend_from_slice(&chunk[..got]);
        if got < want {
            return Err(DataError::TruncatedEntry {
                name: path.to_string(),
                declared,
                got: data.len(),
            });
        }
    }
    Ok(data)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::data::test_util::{assert_contains, err_msg, temp_dir};
    use flate2::write::GzEncoder;
    use flate2::Compression;
    use std::io::Write;

    /// A batch of records with the given labels; pixel bytes depend on `salt`, the record, the
    /// channel and the position, so batches, records and channel statistics all differ.
    fn batch(labels: &[u8], salt: u8) -> Vec<u8> {
        let mut out = Vec::with_capacity(labels.len() * RECORD_LEN);
        for (r, &label) in labels.iter().enumerate() {
            out.push(label);
            out.push((r >> 8) as u8);
            out.extend((1..FEATURES).map(|i| {
                let channel = i / PLANE;
                (((i * 7 + r * 13 + salt as usize * 31) % 256) / (channel + 1)) as u8
            }));
        }
        out
    }

    /// Labels 0..9 repeated, starting at `offset`.
    fn cycling_labels(count: usize, offset: usize) -> Vec<u8> {
        (0..count).map(|i| ((i + offset) % CLASSES) as u8).collect()
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    fn gnu_header(path: &str, size: u64, kind: tar::EntryType) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.set_path(path).unwrap();
        header.set_size(size);
        header.set_mode(0o644);
        header.set_entry_type(kind);
        header.set_cksum();
        header
    }

    /// A tar of `entries` with GNU headers, like the official archive.
    fn tar_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, data) in entries {
            let mut header = gnu_header("x", data.len() as u64, tar::EntryType::Regular);
            builder.append_data(&mut header, path, &data[..]).unwrap();
        }
        builder.into_inner().unwrap()
    }

    /// The official layout: a directory, the meta file, five training batches, the test batch.
    fn official_entries() -> Vec<(&'static str, Vec<u8>)> {
        vec![
            (
                "cifar-10-batches-bin/batches.meta.txt",
                b"airplane\n".to_vec(),
            ),
            (
                "cifar-10-batches-bin/data_batch_1.bin",
                batch(&cycling_labels(20, 0), 1),
            ),
            (
                "cifar-10-batches-bin/data_batch_2.bin",
                batch(&cycling_labels(20, 3), 2),
            ),
            (
                "cifar-10-batches-bin/data_batch_3.bin",
                batch(&cycling_labels(20, 6), 3),
            ),
            (
                "cifar-10-batches-bin/data_batch_4.bin",
                batch(&cycling_labels(20, 1), 4),
            ),
            (
                "cifar-10-batches-bin/data_batch_5.bin",
                batch(&cycling_labels(20, 2), 5),
            ),
            (
                "cifar-10-batches-bin/test_batch.bin",
                batch(&cycling_labels(10, 5), 6),
            ),
        ]
    }

    /// What the training split of `official_entries` must be: batches 1..5 in order.
    fn expected_train() -> Split {
        let mut expected = empty_split();
        for (n, (_, data)) in official_entries()[1..6].iter().enumerate() {
            append_batch(&mut expected, data, &format!("data_batch_{}.bin", n + 1)).unwrap();
        }
        expected
    }

    fn assert_same(got: &Split, want: &Split, what: &str) {
        assert_eq!(got.count, want.count, "{what}: count");
        assert_eq!(got.features, want.features, "{what}: features");
        assert!(got.labels == want.labels, "{what}: labels differ");
        assert!(got.pixels == want.pixels, "{what}: pixels differ");
    }

    #[test]
    fn parse_batch_splits_labels_from_chw_pixels() {
        let bytes = batch(&[3, 0, 9], 7);
        let split = parse_batch(&bytes, "data_batch_1.bin").unwrap();
        assert_eq!(split.count, 3);
        assert_eq!(split.features, 3072);
        assert_eq!(split.labels, vec![3, 0, 9]);
        assert_eq!(split.pixels.len(), 3 * 3072);
        for r in 0..3 {
            assert_eq!(
                &split.pixels[r * 3072..(r + 1) * 3072],
                &bytes[r * 3073 + 1..(r + 1) * 3073],
                "record {r}"
            );
        }
    }

    #[test]
    fn parse_batch_rejects_a_truncated_record() {
        let mut bytes = batch(&[1, 2], 0);
        bytes.extend_from_slice(&[4, 0, 0, 0, 0]);
        let msg = err_msg(parse_batch(&bytes, "data_batch_3.bin"));
        assert_contains(&msg, "data_batch_3.bin is truncated");
        assert_contains(&msg, "2 whole 3073-byte");
        assert_contains(&msg, "5 byte(s) left over");
        let msg = err_msg(parse_batch(&bytes[..100], "test_batch.bin"));
        assert_contains(&msg, "0 whole");
        assert_contains(&msg, "100 byte(s) left over");
    }

    #[test]
    fn parse_batch_rejects_label_10() {
        let msg = err_msg(parse_batch(&batch(&[0, 10, 3], 0), "test_batch.bin"));
        assert_contains(&msg, "test_batch.bin: label 10 in record 1 is out of range");
        let msg = err_msg(parse_batch(&batch(&[0, 1, 255], 0), "x.bin"));
        assert_contains(&msg, "label 255 in record 2");
    }

    #[test]
    fn parse_batch_rejects_an_empty_file() {
        assert_contains(&err_msg(parse_batch(&[], "data_batch_1.bin")), "is empty");
    }

    #[test]
    fn archive_round_trips_through_gzip_and_plain_tar() {
        let tar = tar_of(&official_entries());
        for (what, bytes) in [("tar", tar.clone()), ("tar.gz", gzip(&tar))] {
            let (train, test) = read_archive(&bytes).unwrap();
            assert_same(&train, &expected_train(), what);
            let want_test = parse_batch(&official_entries()[6].1, "t").unwrap();
            assert_same(&test, &want_test, what);
        }
    }

    #[test]
    fn training_batches_come_in_numeric_order_whatever_the_archive_order() {
        let entries = official_entries();
        let shuffled: Vec<_> = [4, 6, 2, 0, 5, 1, 3]
            .iter()
            .map(|&i| entries[i].clone())
            .collect();
        let (train, _) = read_archive(&tar_of(&shuffled)).unwrap();
        assert_same(&train, &expected_train(), "shuffled archive");

        // Any subset of the five batches will do, still in numeric order.
        let some = vec![entries[6].clone(), entries[3].clone(), entries[1].clone()];
        let (train, _) = read_archive(&tar_of(&some)).unwrap();
        let mut expected = parse_batch(&entries[1].1, "1").unwrap();
        append_batch(&mut expected, &entries[3].1, "3").unwrap();
        assert_same(&train, &expected, "batches 3 and 1");
    }

    #[test]
    fn archive_skips_other_entries_and_reads_long_names() {
        let entries = official_entries();
        let mut builder = tar::Builder::new(Vec::new());
        let dir = gnu_header("cifar-10-batches-bin/", 0, tar::EntryType::Directory);
        builder.append(&dir, io::empty()).unwrap();
        // A pax header without a path (as bsdtar writes for extended attributes).
        builder
            .append_pax_extensions([("SCHILY.xattr.user.x", b"1".as_slice())])
            .unwrap();
        // A macOS resource fork and a symlink named like a batch are not batches.
        let fork = batch(&[11], 0);
        let mut header = gnu_header("x", fork.len() as u64, tar::EntryType::Regular);
        builder
            .append_data(
                &mut header,
                "cifar-10-batches-bin/._data_batch_1.bin",
                &fork[..],
            )
            .unwrap();
        let mut link = gnu_header("x", 0, tar::EntryType::Symlink);
        builder
            .append_link(&mut link, "data_batch_9.bin", "nowhere")
            .unwrap();
        // A path over 100 bytes: the builder writes a GNU long-name entry first.
        let deep = format!("{}/data_batch_1.bin", "d".repeat(120));
        let mut header = gnu_header("x", entries[1].1.len() as u64, tar::EntryType::Regular);
        builder
            .append_data(&mut header, &deep, &entries[1].1[..])
            .unwrap();
        // A pax path record naming the next entry.
        builder
            .append_pax_extensions([("path", b"elsewhere/data_batch_2.bin".as_slice())])
            .unwrap();
        let mut header = gnu_header("x", entries[2].1.len() as u64, tar::EntryType::Regular);
        builder
            .append_data(&mut header, "short-name", &entries[2].1[..])
            .unwrap();
        for (path, data) in &entries[3..] {
            let mut header = gnu_header("x", data.len() as u64, tar::EntryType::Regular);
            builder.append_data(&mut header, path, &data[..]).unwrap();
        }
        let tar = builder.into_inner().unwrap();

        let (train, test) = read_archive(&gzip(&tar)).unwrap();
        assert_same(&train, &expected_train(), "extended archive");
        assert_eq!(test.count, 10);
    }

    #[test]
    fn truncated_archives_are_errors() {
        let tar = tar_of(&official_entries());
        // Cut inside the data of the test batch (the last entry).
        let cut = tar.len() - 1024 - 3 * 512;
        let msg = err_msg(read_archive(&tar[..cut]));
        assert_contains(&msg, "archive is truncated");
        assert_contains(
            &msg,
            "cifar-10-batches-bin/test_batch.bin declares 30730 bytes",
        );
        // Cut inside a header.
        let msg = err_msg(read_archive(&tar[..512 + 512 + 100]));
        assert_contains(&msg, "not a valid tar file");
        assert_contains(&msg, "at byte 1024");
        // Cut inside the data of an entry we skip.
        let msg = err_msg(read_archive(&tar[..700]));
        assert_contains(&msg, "not a valid tar file");
        // A truncated .tar.gz fails in the gzip layer.
        let gz = gzip(&tar);
        let msg = err_msg(read_archive(&gz[..gz.len() / 2]));
        assert_contains(&msg, "not valid gzip");
        // Empty input is an archive with nothing in it.
        assert_contains(
            &err_msg(read_archive(&[])),
            "an archive with no files in it",
        );
    }

    #[test]
    fn a_bad_header_checksum_is_an_error() {
        let mut tar = tar_of(&official_entries());
        tar[512 + 512 + 10] ^= 0x20; // a byte of the second header's name
        let msg = err_msg(read_archive(&tar));
        assert_contains(&msg, "checksum mismatch");
        assert_contains(&msg, "at byte 1024");

        // Intact deflate data with a wrong CRC in the gzip trailer.
        let mut gz = gzip(&tar_of(&official_entries()));
        let n = gz.len();
        gz[n - 8] ^= 0xff;
        assert_contains(&err_msg(read_archive(&gz)), "not valid gzip");
    }

    #[test]
    fn hostile_sizes_are_refused_without_allocating_them() {
        // A batch header declaring 8 GiB followed by nothing.
        let mut tar = gnu_header("data_batch_1.bin", 1 << 33, tar::EntryType::Regular)
            .as_bytes()
            .to_vec();
        let msg = err_msg(read_archive(&tar));
        assert_contains(&msg, "declares 8589934592 bytes, more than");

        // A batch declaring more than is there.
        tar = gnu_header("data_batch_1.bin", 1 << 29, tar::EntryType::Regular)
            .as_bytes()
            .to_vec();
        tar.extend_from_slice(&[0; 4096]);
        assert_contains(&err_msg(read_archive(&tar)), "only 4096 follow");

        // A long-name entry declaring 1 GiB is skipped unread, and the skip runs out of data.
        let tar = gnu_header("././@LongLink", 1 << 30, tar::EntryType::GNULongName)
            .as_bytes()
            .to_vec();
        assert_contains(&err_msg(read_archive(&tar)), "not a valid tar file");

        // A stream that unpacks past the limit (zeros compress well) stops there.
        let mut big = tar_of(&official_entries());
        big.extend(std::iter::repeat_n(0, 1 << 20));
        let msg = err_msg(read_archive_with_limit(&gzip(&big), 1 << 18));
        assert_contains(&msg, "archive unpacks to more than 262144 bytes");
    }

    #[test]
    fn missing_batches_are_named() {
        let entries = official_entries();
        let msg = err_msg(read_archive(&tar_of(&entries[..6])));
        assert_contains(
            &msg,
            "no CIFAR-10 test batch (test_batch.bin) among the 6 archive entries",
        );
        assert_contains(&msg, "cifar-10-batches-bin/data_batch_5.bin");
        assert_contains(&msg, "--dataset cifar10");
        let msg = err_msg(read_archive(&tar_of(&[
            entries[0].clone(),
            entries[6].clone(),
        ])));
        assert_contains(&msg, "no CIFAR-10 training batch");
        assert_contains(&msg, "batches.meta.txt");
    }

    #[test]
    fn a_batch_given_twice_is_an_error() {
        let entries = official_entries();
        let twice = vec![
            ("a/test_batch.bin", entries[6].1.clone()),
            ("b/test_batch.bin", entries[6].1.clone()),
        ];
        let msg = err_msg(read_archive(&tar_of(&twice)));
        assert_contains(
            &msg,
            "test_batch.bin appears twice (as a/test_batch.bin and b/test_batch.bin)",
        );
        let msg = err_msg(read_batches(&[
            ("data_batch_1.bin", &entries[1].1),
            ("data_batch_01.bin", &entries[2].1),
        ]));
        assert_contains(&msg, "appears twice");
    }

    #[test]
    fn loose_files_are_classified_by_name() {
        let entries = official_entries();
        let files: Vec<(String, Vec<u8>)> = entries
            .iter()
            .rev()
            .map(|(path, data)| (base_name(path).to_string(), data.clone()))
            .collect();
        let (train, test) = read_batches(&files).unwrap();
        assert_same(&train, &expected_train(), "loose files");
        assert_eq!(test.count, 10);

        let msg = err_msg(read_batches(&[("cifar-10-binary.tar.gz", b"x")]));
        assert_contains(&msg, "among the 1 file (cifar-10-binary.tar.gz)");
        let msg = err_msg(read_batches(&[("data_batch_1.bin", batch(&[1], 0))]));
        assert_contains(&msg, "test_batch.bin");
        let msg = err_msg(read_batches(&[("test_batch.bin", vec![1u8; 10])]));
        assert_contains(&msg, "test_batch.bin is truncated");
    }

    #[test]
    fn stratified_subset_takes_per_class_images_in_file_order() {
        let labels: Vec<u8> = (0..300).map(|i| ((i * 7 + i / 10) % 10) as u8).collect();
        let split = parse_batch(&batch(&labels, 9), "data_batch_1.bin").unwrap();
        let subset = stratified_subset(&split, 4, 42).unwrap();
        assert_eq!(subset.count, 40);
        assert_eq!(subset.features, FEATURES);
        for class in 0..10u8 {
            let n = subset.labels.iter().filter(|&&l| l == class).count();
            assert_eq!(n, 4, "class {class}");
        }
        // Every chosen image is one of the split, in file order.
        let index_of = |pixels: &[u8]| {
            split
                .pixels
                .chunks_exact(FEATURES)
                .position(|p| p == pixels)
                .expect("subset image not in the split")
        };
        let indices: Vec<usize> = subset.pixels.chunks_exact(FEATURES).map(index_of).collect();
        assert!(indices.windows(2).all(|w| w[0] < w[1]), "{indices:?}");
        for (k, &i) in indices.iter().enumerate() {
            assert_eq!(subset.labels[k], split.labels[i]);
        }

        let again = stratified_subset(&split, 4, 42).unwrap();
        assert!(again.pixels == subset.pixels, "same seed, same subset");
        let other = stratified_subset(&split, 4, 43).unwrap();
        assert!(
            other.pixels != subset.pixels,
            "another seed, another subset"
        );
        assert_eq!(stratified_subset(&split, 30, 1).unwrap().count, 300);
    }

    #[test]
    fn stratified_subset_refuses_more_than_a_class_has() {
        let mut labels = cycling_labels(50, 0);
        labels[13] = 4; // class 3 now has 4 images, class 4 has 6
        let split = parse_batch(&batch(&labels, 0), "t").unwrap();
        let msg = err_msg(stratified_subset(&split, 5, 0));
        assert_contains(
            &msg,
            "cannot take 5 images of class 3 for a stratified subset: the split has only 4",
        );
        assert_contains(&msg, "at most 4 per class");
        assert_eq!(stratified_subset(&split, 4, 0).unwrap().count, 40);
    }

    #[test]
    fn channel_stats_match_a_direct_computation() {
        let split = parse_batch(&batch(&cycling_labels(7, 0), 3), "t").unwrap();
        let (mean, std) = channel_stats(&split);
        for c in 0..3 {
            let values: Vec<f64> = split
                .pixels
                .chunks_exact(FEATURES)
                .flat_map(|image| &image[c * PLANE..(c + 1) * PLANE])
                .map(|&p| p as f64 / 255.0)
                .collect();
            let n = values.len() as f64;
            let m = values.iter().sum::<f64>() / n;
            let s = (values.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n).sqrt();
            assert!(
                (mean[c] as f64 - m).abs() < 1e-6,
                "mean[{c}] {} vs {m}",
                mean[c]
            );
            assert!(
                (std[c] as f64 - s).abs() < 1e-6,
                "std[{c}] {} vs {s}",
                std[c]
            );
        }
        // The channels differ (the test pattern shifts with the position).
        assert_ne!(mean[0], mean[1]);

        // Constant channels: exact means, zero spread; an empty split gives zeros.
        let mut image = vec![0u8; FEATURES];
        image[PLANE..2 * PLANE].fill(255);
        image[2 * PLANE..].fill(51);
        let constant = Split {
            pixels: image.repeat(2),
            labels: vec![0, 1],
            count: 2,
            features: FEATURES,
        };
        assert_eq!(channel_stats(&constant), ([0.0, 1.0, 0.2], [0.0, 0.0, 0.0]));
        assert_eq!(channel_stats(&empty_split()), ([0.0; 3], [0.0; 3]));
    }

    #[test]
    fn load_dir_reads_the_archive_or_loose_batches() {
        let entries = official_entries();
        let dir = temp_dir("cifar", "archive");
        std::fs::write(dir.join(ARCHIVE_NAME), gzip(&tar_of(&entries))).unwrap();
        let (train, test) = load_dir(&dir).unwrap();
        assert_same(&train, &expected_train(), "archive in dir");
        assert_eq!(test.count, 10);
        std::fs::write(dir.join(ARCHIVE_NAME), b"not an archive").unwrap();
        let msg = err_msg(load_dir(&dir));
        assert_contains(&msg, &dir.join(ARCHIVE_NAME).display().to_string());
        assert_contains(&msg, "not a valid tar file");
        std::fs::remove_dir_all(&dir).unwrap();

        let dir = temp_dir("cifar", "loose");
        let batches = dir.join("cifar-10-batches-bin");
        std::fs::create_dir(&batches).unwrap();
        for (path, data) in &entries {
            std::fs::write(dir.join(path), data).unwrap();
        }
        let (train, _) = load_dir(&dir).unwrap();
        assert_same(&train, &expected_train(), "cifar-10-batches-bin/");
        let (train, _) = load_dir(&batches).unwrap();
        assert_same(&train, &expected_train(), "*.bin in dir");
        std::fs::remove_file(batches.join("test_batch.bin")).unwrap();
        let msg = err_msg(load_dir(&dir));
        assert_contains(&msg, "no CIFAR-10 test batch");
        assert_contains(&msg, "data_batch_1.bin");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn load_dir_says_how_to_get_the_data() {
        let dir = temp_dir("cifar", "empty");
        let msg = err_msg(load_dir(&dir));
        assert_contains(&msg, "no CIFAR-10 data in");
        assert_contains(&msg, "npm run fetch-data -- --dataset cifar10");
        assert_contains(&msg, ARCHIVE_URL);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
