//! IDX files, the format MNIST and Fashion-MNIST ship in.
//!
//! An IDX file is a big-endian header followed by a row-major payload:
//!
//! | file   | header (big-endian u32s)                         | payload            |
//! |--------|--------------------------------------------------|--------------------|
//! | images | magic `0x00000803`, count, rows, cols (16 bytes) | count*rows*cols u8 |
//! | labels | magic `0x00000801`, count (8 bytes)              | count u8           |
//!
//! The magic number is `0x0000` followed by a type byte (`0x08` = unsigned byte)
//! and the number of dimensions, so images are 3-dimensional and labels 1-dimensional.
//!
//! [`parse_images`] and [`parse_labels`] accept raw IDX bytes or the same bytes
//! gzip-compressed (detected by the `1f 8b` gzip magic). Every header field is
//! checked before anything is allocated, and gzip input is decompressed as a
//! stream capped at the size the header declares, so a corrupt header or a gzip
//! bomb ends in a [`DataError`] rather than a huge allocation.
//!
//! The parsing functions never touch the file system, so they work on wasm32 too;
//! [`load_split`] (native only) reads the files of one split from a directory.

use std::io::{self, Read};

/// Magic number of an IDX images file: unsigned bytes, 3 dimensions (2051).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX labels file: unsigned bytes, 1 dimension (2049).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// Largest payload (pixels or labels) a header may declare: 1 GiB.
/// The full MNIST training set is 47 MB, so anything larger is a corrupt header.
pub const MAX_PAYLOAD_BYTES: usize = 1 << 30;

const IMAGES_HEADER_LEN: usize = 16;
const LABELS_HEADER_LEN: usize = 8;
/// Deflate cannot expand data by more than about 1032:1, so this bounds what a
/// gzip stream of a given size can honestly hold (used to size the first allocation).
const DEFLATE_MAX_RATIO: usize = 1032;
/// How far past the declared payload we read to report the size of trailing data.
const TRAILING_PROBE: usize = 1 << 20;
/// The most an IDX file can unpack to and still be reported on exactly: the largest header, the
/// largest payload and the trailing-data probe (the page's worker stops decompressing past it).
pub const MAX_UNPACKED_BYTES: usize = IMAGES_HEADER_LEN + MAX_PAYLOAD_BYTES + TRAILING_PROBE;

/// A set of greyscale images, `count * rows * cols` bytes, image after image, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Images {
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u8>,
}

impl Images {
    /// Bytes per image (`rows * cols`).
    pub fn image_len(&self) -> usize {
        self.rows * self.cols
    }

    /// The pixels of image `index`, row-major. Panics if `index >= count`.
    pub fn image(&self, index: usize) -> &[u8] {
        assert!(
            index < self.count,
            "image index {index} out of range (count {})",
            self.count
        );
        let n = self.image_len();
        &self.pixels[index * n..(index + 1) * n]
    }
}

/// What went wrong reading an IDX file. Each message is one line naming the
/// problem and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error(
        "{kind} file has magic number 0x{found:08x} ({found}), expected 0x{expected:08x} ({expected}){}; is this an IDX file? labels and images swapped? re-create it with `npm run prepare-data`",
        magic_hint(*found, *expected)
    )]
    BadMagic {
        kind: &'static str,
        found: u32,
        expected: u32,
    },

    #[error("{kind} file is truncated: header needs {needed} bytes but only {got} are there; the file is incomplete, re-download or re-create it")]
    TruncatedHeader {
        kind: &'static str,
        needed: usize,
        got: usize,
    },

    #[error("{kind} file is truncated: header declares {expected} payload bytes but only {got} follow; the file is incomplete, re-download or re-create it")]
    TruncatedData {
        kind: &'static str,
        expected: usize,
        got: usize,
    },

    #[error("{kind} file has trailing bytes: {} extra byte(s) after the {declared} payload bytes the header declares; the header does not match the data, re-create the file", if *at_least { format!("at least {extra}") } else { extra.to_string() })]
    TrailingBytes {
        kind: &'static str,
        declared: usize,
        extra: usize,
        at_least: bool,
    },

    #[error("{kind} file header declares dimensions {dims} whose product overflows usize; the header is corrupt, re-download or re-create the file")]
    Overflow { kind: &'static str, dims: String },

    #[error("{kind} file header declares dimensions {dims} = {bytes} bytes, too large (limit {limit} bytes); the header is corrupt, re-download or re-create the file")]
    TooLarge {
        kind: &'static str,
        dims: String,
        bytes: usize,
        limit: usize,
    },

    #[error("{kind} file header declares zero {dim}; images need at least 1 row and 1 column, re-create the file")]
    ZeroDimension {
        kind: &'static str,
        dim: &'static str,
    },

    #[error("label {value} at index {index} is out of range: expected a value below {num_classes}; wrong num_classes, or the labels file is corrupt")]
    LabelOutOfRange {
        index: usize,
        value: u8,
        num_classes: u8,
    },

    #[error("{kind} file is not valid gzip (corrupt gzip or cut short: {source}); delete it and re-download or re-create it")]
    Gzip {
        kind: &'static str,
        #[source]
        source: io::Error,
    },

    #[error("{kind} file is gzip-compressed; in the browser decompress it first (the page's worker does, with DecompressionStream) and pass the plain bytes")]
    GzipInBrowser { kind: &'static str },

    #[error("image/label count mismatch: {images_file} has {images} images but {labels_file} has {labels} labels; the two files come from different sets, re-create both")]
    CountMismatch {
        images_file: String,
        images: usize,
        labels_file: String,
        labels: usize,
    },

    #[error("missing data file: neither {} nor {}.gz exists; run `npm run prepare-data` (or `npm run fetch-data`) or point at the right data directory", path.display(), path.display())]
    NotFound { path: std::path::PathBuf },

    #[error("cannot read {}: {source}; check the path and its permissions", path.display())]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("{file} is empty: a CIFAR-10 batch holds 3073-byte records (1 label byte, 3072 pixel bytes); the file is incomplete, re-download it")]
    EmptyBatch { file: String },

    #[error("{file} is truncated: {records} whole 3073-byte CIFAR-10 record(s) and {leftover} byte(s) left over; the file is incomplete or not a CIFAR-10 binary batch (CIFAR-100 records are 3074 bytes), re-download it")]
    TruncatedRecord {
        file: String,
        records: usize,
        leftover: usize,
    },

    #[error("{file}: label {value} in record {record} is out of range: CIFAR-10 labels are 0..9; the file is corrupt or not a CIFAR-10 binary batch, re-download it")]
    CifarLabel {
        file: String,
        record: usize,
        value: u8,
    },

    #[error("archive is not a valid tar file ({reason}, at byte {offset} of the tar stream); is it cifar-10-binary.tar.gz? delete it and re-download it")]
    Tar { offset: u64, reason: String },

    #[error("archive is truncated: {name} declares {declared} bytes but only {got} follow; the download is incomplete, delete it and re-download it")]
    TruncatedEntry {
        name: String,
        declared: u64,
        got: usize,
    },

    #[error("archive entry {name} declares {declared} bytes, more than the {limit}-byte limit for one CIFAR-10 batch; the archive is corrupt or not CIFAR-10, re-download it")]
    EntryTooLarge {
        name: String,
        declared: u64,
        limit: usize,
    },

    #[error("archive unpacks to more than {limit} bytes, far more than CIFAR-10 (about 185 MB); it is corrupt or not cifar-10-binary.tar.gz, re-download it")]
    ArchiveTooLarge { limit: u64 },

    #[error(
        "{name} appears twice (as {first} and {second}); give one copy of each CIFAR-10 batch"
    )]
    DuplicateBatch {
        name: String,
        first: String,
        second: String,
    },

    #[error("no CIFAR-10 {what} among {looked_in}; give cifar-10-binary.tar.gz (`npm run fetch-data -- --dataset cifar10`) or data_batch_1.bin .. data_batch_5.bin and test_batch.bin from it")]
    MissingBatch {
        what: &'static str,
        looked_in: String,
    },

    #[error("no CIFAR-10 data in {}: expected cifar-10-binary.tar.gz, cifar-10-batches-bin/*.bin or *.bin there; run `npm run fetch-data -- --dataset cifar10` (needs internet) or download https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz into that directory", dir.display())]
    CifarNotFound { dir: std::path::PathBuf },

    #[error("cannot take {asked} images of class {class} for a stratified subset: the split has only {available}; ask for at most {max_per_class} per class")]
    SubsetTooSmall {
        class: u8,
        asked: usize,
        available: usize,
        max_per_class: usize,
    },

    #[error("{}: {source}", path.display())]
    InFile {
        path: std::path::PathBuf,
        #[source]
        source: Box<DataError>,
    },
}

/// What a wrong magic number is, when it is recognisable: the other IDX file of a pair, or an
/// IDX file of another element type or number of dimensions.
fn magic_hint(found: u32, expected: u32) -> String {
    match (found, expected) {
        (LABELS_MAGIC, IMAGES_MAGIC) => return " (that is the magic of a labels file)".into(),
        (IMAGES_MAGIC, LABELS_MAGIC) => return " (that is the magic of an images file)".into(),
        _ => {}
    }
    if found >> 16 != 0 {
        return String::new();
    }
    let [_, _, element, dims] = found.to_be_bytes();
    let element_name = match element {
        0x08 => "unsigned byte",
        0x09 => "signed byte",
        0x0B => "int16",
        0x0C => "int32",
        0x0D => "float32",
        0x0E => "float64",
        _ => return String::new(),
    };
    if element != 0x08 {
        format!(" (an IDX file of {element_name} elements, type 0x{element:02x}; samlab reads unsigned bytes, type 0x08)")
    } else {
        format!(
            " (an IDX file with {dims} dimension(s); expected {})",
            expected & 0xff
        )
    }
}

const IMAGES: &str = "images";
const LABELS: &str = "labels";

pub(crate) fn is_gzip(bytes: &[u8]) -> bool {
    bytes.len() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
}

/// A decoder of gzip `bytes` (every member). Natively flate2; the wasm build leaves gzip to the
/// browser (the page's worker pipes the files through `DecompressionStream('gzip')` before it
/// calls in), which keeps an inflater out of the download, so there gzip input is an error.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn gunzip<'a>(
    bytes: &'a [u8],
    _kind: &'static str,
) -> Result<impl Read + 'a, DataError> {
    Ok(flate2::read::MultiGzDecoder::new(bytes))
}

#[cfg(target_arch = "wasm32")]
pub(crate) fn gunzip(_bytes: &[u8], kind: &'static str) -> Result<io::Empty, DataError> {
    Err(DataError::GzipInBrowser { kind })
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Checks the first `got` bytes of a header: the magic first (as soon as its 4
/// bytes are there, since a wrong magic explains a short file best), then the length.
fn check_magic_and_len(
    h: &[u8],
    got: usize,
    kind: &'static str,
    expected: u32,
) -> Result<(), DataError> {
    if got >= 4 {
        let found = be_u32(&h[0..4]);
        if found != expected {
            return Err(DataError::BadMagic {
                kind,
                found,
                expected,
            });
        }
    }
    if got < h.len() {
        return Err(DataError::TruncatedHeader {
            kind,
            needed: h.len(),
            got,
        });
    }
    Ok(())
}

/// Checks the declared sizes of an images header (magic already checked) and returns
/// `(count, rows, cols, payload_bytes)`.
fn check_images_header(
    h: &[u8; IMAGES_HEADER_LEN],
) -> Result<(usize, usize, usize, usize), DataError> {
    let (count, rows, cols) = (be_u32(&h[4..8]), be_u32(&h[8..12]), be_u32(&h[12..16]));
    if rows == 0 {
        return Err(DataError::ZeroDimension {
            kind: IMAGES,
            dim: "rows",
        });
    }
    if cols == 0 {
        return Err(DataError::ZeroDimension {
            kind: IMAGES,
            dim: "cols",
        });
    }
    let dims = format!("{count} x {rows} x {cols}");
    let to_usize = |v: u32| usize::try_from(v).ok();
    let bytes = match (to_usize(count), to_usize(rows), to_usize(cols)) {
        (Some(n), Some(r), Some(c)) => n.checked_mul(r).and_then(|x| x.checked_mul(c)),
        _ => None,
    };
    let bytes = bytes.ok_or_else(|| DataError::Overflow {
        kind: IMAGES,
        dims: dims.clone(),
    })?;
    if bytes > MAX_PAYLOAD_BYTES {
        return Err(DataError::TooLarge {
            kind: IMAGES,
            dims,
            bytes,
            limit: MAX_PAYLOAD_BYTES,
        });
    }
    Ok((count as usize, rows as usize, cols as usize, bytes))
}

/// Checks the declared count of a labels header (magic already checked).
fn check_labels_header(h: &[u8; LABELS_HEADER_LEN]) -> Result<usize, DataError> {
    let count = be_u32(&h[4..8]);
    let bytes = usize::try_from(count).map_err(|_| DataError::Overflow {
        kind: LABELS,
        dims: count.to_string(),
    })?;
    if bytes > MAX_PAYLOAD_BYTES {
        return Err(DataError::TooLarge {
            kind: LABELS,
            dims: count.to_string(),
            bytes,
            limit: MAX_PAYLOAD_BYTES,
        });
    }
    Ok(bytes)
}

/// Reads until `buf` is full or the stream ends; returns how many bytes were read.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8], kind: &'static str) -> Result<usize, DataError> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(DataError::Gzip { kind, source: e }),
        }
    }
    Ok(filled)
}

/// Reads exactly `declared` payload bytes from a gzip decoder, never more, then
/// checks the stream has nothing left (which also makes the decoder verify the
/// gzip CRC and length trailer).
fn read_gzip_payload<R: Read>(
    mut r: R,
    declared: usize,
    compressed_len: usize,
    kind: &'static str,
) -> Result<Vec<u8>, DataError> {
    // Reserve no more than the compressed input could honestly expand to; the
    // vector grows if a stream really is that compressible.
    let mut payload =
        Vec::with_capacity(declared.min(compressed_len.saturating_mul(DEFLATE_MAX_RATIO)));
    (&mut r)
        .take(declared as u64)
        .read_to_end(&mut payload)
        .map_err(|e| DataError::Gzip { kind, source: e })?;
    if payload.len() < declared {
        return Err(DataError::TruncatedData {
            kind,
            expected: declared,
            got: payload.len(),
        });
    }
    let mut probe = [0u8; 8192];
    let mut extra = 0usize;
    loop {
        let n = read_full(&mut r, &mut probe, kind)?;
        extra += n;
        if n < probe.len() {
            break;
        }
        if extra >= TRAILING_PROBE {
            return Err(DataError::TrailingBytes {
                kind,
                declared,
                extra,
                at_least: true,
            });
        }
    }
    if extra > 0 {
        return Err(DataError::TrailingBytes {
            kind,
            declared,
            extra,
            at_least: false,
        });
    }
    Ok(payload)
}

/// Splits raw IDX bytes into the header and a payload of exactly `declared` bytes.
fn raw_payload<'a>(
    bytes: &'a [u8],
    header_len: usize,
    declared: usize,
    kind: &'static str,
) -> Result<&'a [u8], DataError> {
    let body = &bytes[header_len..];
    if body.len() < declared {
        return Err(DataError::TruncatedData {
            kind,
            expected: declared,
            got: body.len(),
        });
    }
    if body.len() > declared {
        return Err(DataError::TrailingBytes {
            kind,
            declared,
            extra: body.len() - declared,
            at_least: false,
        });
    }
    Ok(body)
}

/// Parses an IDX images file (magic 2051, 3 dimensions), raw or gzip-compressed.
pub fn parse_images(bytes: &[u8]) -> Result<Images, DataError> {
    let mut header = [0u8; IMAGES_HEADER_LEN];
    if is_gzip(bytes) {
        let mut r = gunzip(bytes, IMAGES)?;
        let got = read_full(&mut r, &mut header, IMAGES)?;
        check_magic_and_len(&header, got, IMAGES, IMAGES_MAGIC)?;
        let (count, rows, cols, declared) = check_images_header(&header)?;
        let pixels = read_gzip_payload(r, declared, bytes.len(), IMAGES)?;
        Ok(Images {
            count,
            rows,
            cols,
            pixels,
        })
    } else {
        let got = bytes.len().min(IMAGES_HEADER_LEN);
        header[..got].copy_from_slice(&bytes[..got]);
        check_magic_and_len(&header, got, IMAGES, IMAGES_MAGIC)?;
        let (count, rows, cols, declared) = check_images_header(&header)?;
        let pixels = raw_payload(bytes, IMAGES_HEADER_LEN, declared, IMAGES)?.to_vec();
        Ok(Images {
            count,
            rows,
            cols,
            pixels,
        })
    }
}

/// Parses an IDX labels file (magic 2049, 1 dimension), raw or gzip-compressed,
/// and checks every label is below `num_classes`.
pub fn parse_labels(bytes: &[u8], num_classes: u8) -> Result<Vec<u8>, DataError> {
    let mut header = [0u8; LABELS_HEADER_LEN];
    let labels = if is_gzip(bytes) {
        let mut r = gunzip(bytes, LABELS)?;
        let got = read_full(&mut r, &mut header, LABELS)?;
        check_magic_and_len(&header, got, LABELS, LABELS_MAGIC)?;
        let declared = check_labels_header(&header)?;
        read_gzip_payload(r, declared, bytes.len(), LABELS)?
    } else {
        let got = bytes.len().min(LABELS_HEADER_LEN);
        header[..got].copy_from_slice(&bytes[..got]);
        check_magic_and_len(&header, got, LABELS, LABELS_MAGIC)?;
        let declared = check_labels_header(&header)?;
        raw_payload(bytes, LABELS_HEADER_LEN, declared, LABELS)?.to_vec()
    };
    if let Some((index, &value)) = labels.iter().enumerate().find(|(_, &v)| v >= num_classes) {
        return Err(DataError::LabelOutOfRange {
            index,
            value,
            num_classes,
        });
    }
    Ok(labels)
}

fn dim_u32(v: usize, what: &str) -> [u8; 4] {
    u32::try_from(v)
        .unwrap_or_else(|_| panic!("encode_images: {what} = {v} does not fit the IDX u32 header"))
        .to_be_bytes()
}

/// Encodes images as a raw (uncompressed) IDX file.
///
/// Panics if `pixels.len() != count * rows * cols` or a dimension exceeds `u32::MAX`.
pub fn encode_images(images: &Images) -> Vec<u8> {
    let expected = images
        .count
        .checked_mul(images.rows)
        .and_then(|x| x.checked_mul(images.cols));
    assert_eq!(
        expected,
        Some(images.pixels.len()),
        "encode_images: pixels.len() must equal count*rows*cols ({} x {} x {})",
        images.count,
        images.rows,
        images.cols
    );
    let mut out = Vec::with_capacity(IMAGES_HEADER_LEN + images.pixels.len());
    out.extend_from_slice(&IMAGES_MAGIC.to_be_bytes());
    out.extend_from_slice(&dim_u32(images.count, "count"));
    out.extend_from_slice(&dim_u32(images.rows, "rows"));
    out.extend_from_slice(&dim_u32(images.cols, "cols"));
    out.extend_from_slice(&images.pixels);
    out
}

/// Encodes labels as a raw (uncompressed) IDX file.
///
/// Panics if there are more than `u32::MAX` labels.
pub fn encode_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(LABELS_HEADER_LEN + labels.len());
    out.extend_from_slice(&LABELS_MAGIC.to_be_bytes());
    out.extend_from_slice(&dim_u32(labels.len(), "label count"));
    out.extend_from_slice(labels);
    out
}

/// Reads `dir/name` or `dir/name.gz`, whichever exists (the uncompressed file
/// wins if both do); returns the path read and its bytes.
#[cfg(not(target_arch = "wasm32"))]
fn read_either(
    dir: &std::path::Path,
    name: &str,
) -> Result<(std::path::PathBuf, Vec<u8>), DataError> {
    let plain = dir.join(name);
    let gz = dir.join(format!("{name}.gz"));
    for path in [plain.clone(), gz] {
        match std::fs::read(&path) {
            Ok(bytes) => return Ok((path, bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(DataError::Io { path, source: e }),
        }
    }
    Err(DataError::NotFound { path: plain })
}

/// Loads one split from `dir`: `{prefix}-images-idx3-ubyte` and
/// `{prefix}-labels-idx1-ubyte`, each plain or with a `.gz` suffix
/// (e.g. `prefix = "train"` or `"t10k"`), and checks their counts agree.
#[cfg(not(target_arch = "wasm32"))]
pub fn load_split(
    dir: &std::path::Path,
    prefix: &str,
    num_classes: u8,
) -> Result<(Images, Vec<u8>), DataError> {
    let in_file = |path: &std::path::Path| {
        let path = path.to_path_buf();
        move |e: DataError| DataError::InFile {
            path,
            source: Box::new(e),
        }
    };
    let (images_path, bytes) = read_either(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let images = parse_images(&bytes).map_err(in_file(&images_path))?;
    drop(bytes);
    let (labels_path, bytes) = read_either(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    let labels = parse_labels(&bytes, num_classes).map_err(in_file(&labels_path))?;
    if images.count != labels.len() {
        return Err(DataError::CountMismatch {
            images_file: images_path.display().to_string(),
            images: images.count,
            labels_file: labels_path.display().to_string(),
            labels: labels.len(),
        });
    }
    Ok((images, labels))
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::data::test_util::{assert_contains, err_msg, temp_dir};
    use flate2::write::GzEncoder;
    use flate2::Compression;
    use std::io::Write;

    fn sample_images(count: usize, rows: usize, cols: usize) -> Images {
        let pixels = (0..count * rows * cols)
            .map(|i| (i * 7 % 256) as u8)
            .collect();
        Images {
            count,
            rows,
            cols,
            pixels,
        }
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    fn images_header(magic: u32, count: u32, rows: u32, cols: u32) -> Vec<u8> {
        [magic, count, rows, cols]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect()
    }

    #[test]
    fn round_trip_raw() {
        let images = sample_images(5, 28, 28);
        let encoded = encode_images(&images);
        assert_eq!(encoded.len(), 16 + 5 * 28 * 28);
        assert_eq!(&encoded[..4], &[0, 0, 8, 3]);
        assert_eq!(parse_images(&encoded).unwrap(), images);
        assert_eq!(images.image(1), &images.pixels[784..1568]);

        let labels = vec![0, 9, 3, 3, 7];
        let encoded = encode_labels(&labels);
        assert_eq!(&encoded[..8], &[0, 0, 8, 1, 0, 0, 0, 5]);
        assert_eq!(parse_labels(&encoded, 10).unwrap(), labels);
    }

    #[test]
    fn round_trip_gzip() {
        let images = sample_images(3, 4, 6);
        assert_eq!(
            parse_images(&gzip(&encode_images(&images))).unwrap(),
            images
        );
        let labels = vec![1, 2, 0];
        assert_eq!(
            parse_labels(&gzip(&encode_labels(&labels)), 3).unwrap(),
            labels
        );
    }

    #[test]
    fn empty_sets_round_trip() {
        let images = Images {
            count: 0,
            rows: 28,
            cols: 28,
            pixels: vec![],
        };
        assert_eq!(parse_images(&encode_images(&images)).unwrap(), images);
        assert_eq!(
            parse_labels(&encode_labels(&[]), 10).unwrap(),
            Vec::<u8>::new()
        );
    }

    #[test]
    fn wrong_magic() {
        let mut bytes = encode_images(&sample_images(1, 2, 2));
        bytes[3] = 0x02;
        let msg = err_msg(parse_images(&bytes));
        assert_contains(&msg, "magic");
        assert_contains(&msg, "0x00000802");
        assert_contains(&msg, "0x00000803");
        assert_contains(&msg, "is this an IDX file?");

        let msg = err_msg(parse_labels(b"PK\x03\x04 not idx", 10));
        assert_contains(&msg, "magic");
    }

    #[test]
    fn swapped_files() {
        let labels = encode_labels(&[1, 2, 3, 4, 5, 6, 7, 8]);
        let msg = err_msg(parse_images(&labels));
        assert_contains(&msg, "swapped");
        assert_contains(&msg, "labels file");

        let images = encode_images(&sample_images(1, 2, 2));
        let msg = err_msg(parse_labels(&images, 10));
        assert_contains(&msg, "swapped");
        assert_contains(&msg, "images file");
    }

    #[test]
    fn truncated_header() {
        let bytes = encode_images(&sample_images(1, 2, 2));
        assert_contains(&err_msg(parse_images(&bytes[..10])), "truncated");
        assert_contains(&err_msg(parse_images(&gzip(&bytes[..10]))), "truncated");
        assert_contains(
            &err_msg(parse_labels(&encode_labels(&[1])[..5], 10)),
            "truncated",
        );
        assert_contains(&err_msg(parse_images(&[])), "truncated");
    }

    #[test]
    fn truncated_payload() {
        let bytes = encode_images(&sample_images(3, 4, 4));
        let cut = &bytes[..bytes.len() - 1];
        let msg = err_msg(parse_images(cut));
        assert_contains(&msg, "truncated");
        assert_contains(&msg, "47");
        assert_contains(&err_msg(parse_images(&gzip(cut))), "truncated");
        let labels = encode_labels(&[1, 2, 3]);
        assert_contains(
            &err_msg(parse_labels(&labels[..labels.len() - 2], 10)),
            "truncated",
        );
    }

    #[test]
    fn trailing_bytes() {
        let mut bytes = encode_images(&sample_images(2, 3, 3));
        bytes.extend_from_slice(&[0, 0, 0]);
        let msg = err_msg(parse_images(&bytes));
        assert_contains(&msg, "trailing");
        assert_contains(&msg, "3 extra");
        assert_contains(&err_msg(parse_images(&gzip(&bytes))), "trailing");
        let mut labels = encode_labels(&[1, 2]);
        labels.push(1);
        assert_contains(&err_msg(parse_labels(&labels, 10)), "trailing");
    }

    #[test]
    fn count_mismatch() {
        let dir = temp_dir("idx", "mismatch");
        std::fs::write(
            dir.join("train-images-idx3-ubyte"),
            encode_images(&sample_images(4, 2, 2)),
        )
        .unwrap();
        std::fs::write(
            dir.join("train-labels-idx1-ubyte.gz"),
            gzip(&encode_labels(&[1, 2, 3])),
        )
        .unwrap();
        let msg = err_msg(load_split(&dir, "train", 10));
        assert_contains(&msg, "mismatch");
        assert_contains(&msg, "4 images");
        assert_contains(&msg, "3 labels");
        assert_contains(&msg, "train-labels-idx1-ubyte.gz");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn load_split_reads_plain_and_gzip() {
        let dir = temp_dir("idx", "ok");
        let images = sample_images(3, 5, 5);
        std::fs::write(
            dir.join("t10k-images-idx3-ubyte.gz"),
            gzip(&encode_images(&images)),
        )
        .unwrap();
        std::fs::write(
            dir.join("t10k-labels-idx1-ubyte"),
            encode_labels(&[0, 1, 9]),
        )
        .unwrap();
        let (got, labels) = load_split(&dir, "t10k", 10).unwrap();
        assert_eq!(got, images);
        assert_eq!(labels, vec![0, 1, 9]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn load_split_missing_file() {
        let dir = temp_dir("idx", "missing");
        let msg = err_msg(load_split(&dir, "train", 10));
        assert_contains(&msg, "missing");
        assert_contains(
            &msg,
            &dir.join("train-images-idx3-ubyte").display().to_string(),
        );
        std::fs::write(
            dir.join("train-images-idx3-ubyte"),
            encode_images(&sample_images(1, 1, 1)),
        )
        .unwrap();
        let msg = err_msg(load_split(&dir, "train", 10));
        assert_contains(&msg, "train-labels-idx1-ubyte.gz");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn load_split_names_the_bad_file() {
        let dir = temp_dir("idx", "badfile");
        std::fs::write(dir.join("train-images-idx3-ubyte"), encode_labels(&[1])).unwrap();
        let msg = err_msg(load_split(&dir, "train", 10));
        assert_contains(&msg, "train-images-idx3-ubyte:");
        assert_contains(&msg, "swapped");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn label_out_of_range() {
        let msg = err_msg(parse_labels(&encode_labels(&[0, 1, 2, 10, 4]), 10));
        assert_contains(&msg, "out of range");
        assert_contains(&msg, "label 10 at index 3");
        assert_contains(
            &err_msg(parse_labels(&gzip(&encode_labels(&[255])), 10)),
            "label 255",
        );
    }

    #[test]
    fn overflowing_dimensions() {
        let header = images_header(IMAGES_MAGIC, u32::MAX, u32::MAX, u32::MAX);
        let msg = err_msg(parse_images(&header));
        assert_contains(&msg, "overflow");
        assert_contains(&err_msg(parse_images(&gzip(&header))), "overflow");

        // Fits in usize on 64-bit but is far beyond any real data set.
        let msg = err_msg(parse_images(&images_header(
            IMAGES_MAGIC,
            100_000,
            1000,
            1000,
        )));
        assert_contains(&msg, "too large");
        let msg = err_msg(parse_labels(&[0, 0, 8, 1, 0xff, 0xff, 0xff, 0xff], 10));
        assert_contains(&msg, "too large");
    }

    #[test]
    fn zero_dimensions() {
        assert_contains(
            &err_msg(parse_images(&images_header(IMAGES_MAGIC, 1, 0, 28))),
            "zero rows",
        );
        assert_contains(
            &err_msg(parse_images(&images_header(IMAGES_MAGIC, 1, 28, 0))),
            "zero cols",
        );
    }

    #[test]
    fn gzip_bomb_is_refused_without_inflating_it() {
        // A valid header for 2 images of 28x28 followed by 200 MB of zeros, compressed
        // in a stream so the test itself never holds the 200 MB either.
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(&images_header(IMAGES_MAGIC, 2, 28, 28))
            .unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..200 {
            enc.write_all(&zeros).unwrap();
        }
        let bomb = enc.finish().unwrap();
        assert!(
            bomb.len() < 1 << 20,
            "bomb should compress well: {}",
            bomb.len()
        );

        let start = std::time::Instant::now();
        let msg = err_msg(parse_images(&bomb));
        assert_contains(&msg, "trailing");
        assert_contains(&msg, "at least");
        assert!(
            start.elapsed() < std::time::Duration::from_secs(2),
            "took {:?}",
            start.elapsed()
        );

        // A header that declares 784 MB (under the cap) backed by a tiny stream must
        // fail as truncated without reserving the declared size up front.
        let lying = gzip(&images_header(IMAGES_MAGIC, 1_000_000, 28, 28));
        assert_contains(&err_msg(parse_images(&lying)), "truncated");
    }

    #[test]
    fn corrupt_gzip() {
        // First deflate block uses the reserved block type 0b11.
        let mut gz = gzip(&encode_images(&sample_images(4, 8, 8)));
        gz[10] = 0x07;
        let msg = err_msg(parse_images(&gz));
        assert_contains(&msg, "corrupt gzip");

        // Intact deflate data with a wrong CRC in the trailer.
        let mut gz = gzip(&encode_labels(&[1, 2, 3]));
        let n = gz.len();
        gz[n - 8] ^= 0xff;
        assert_contains(&err_msg(parse_labels(&gz, 10)), "corrupt gzip");

        // A gzip stream cut off in the middle.
        let gz = gzip(&encode_images(&sample_images(64, 28, 28)));
        let msg = err_msg(parse_images(&gz[..gz.len() / 2]));
        assert!(msg.contains("gzip") || msg.contains("truncated"), "{msg}");

        // Just the gzip magic.
        assert_contains(&err_msg(parse_images(&[0x1f, 0x8b])), "gzip");
    }
}
