//! Test-only ZIP reader (central directory, stored and deflated entries, CRC-checked) with a
//! small RFC 1951 inflater, so EPUB output can be checked without adding a crate.

/// The entries of a ZIP archive, in central-directory order, decompressed.
pub(crate) struct Zip {
    entries: Vec<(String, Vec<u8>)>,
}

impl Zip {
    /// Panics on anything malformed: this is for assertions.
    pub(crate) fn read(bytes: &[u8]) -> Zip {
        let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]) as usize;
        let u32_at =
            |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        let eocd = (0..=bytes.len() - 22)
            .rev()
            .find(|&i| bytes[i..i + 4] == [0x50, 0x4b, 0x05, 0x06])
            .expect("end of central directory");
        let count = u16_at(eocd + 10);
        let mut at = u32_at(eocd + 16) as usize;
        let mut entries = Vec::with_capacity(count);
        for _ in 0..count {
            assert_eq!(u32_at(at), 0x0201_4b50, "central directory entry");
            let method = u16_at(at + 10);
            let crc = u32_at(at + 16);
            let compressed = u32_at(at + 20) as usize;
            let size = u32_at(at + 24) as usize;
            let name_len = u16_at(at + 28);
            let extra_len = u16_at(at + 30);
            let comment_len = u16_at(at + 32);
            let local = u32_at(at + 42) as usize;
            let name = String::from_utf8(bytes[at + 46..at + 46 + name_len].to_vec()).unwrap();
            at += 46 + name_len + extra_len + comment_len;

            assert_eq!(u32_at(local), 0x0403_4b50, "local header of {name}");
            let data = local + 30 + u16_at(local + 26) + u16_at(local + 28);
            let raw = &bytes[data..data + compressed];
            let content = match method {
                0 => raw.to_vec(),
                8 => inflate(raw),
                m => panic!("{name}: compression method {m}"),
            };
            assert_eq!(content.len(), size, "{name} size");
            assert_eq!(crc32(&content), crc, "{name} crc");
            entries.push((name, content));
        }
        Zip { entries }
    }

    pub(crate) fn names(&self) -> Vec<String> {
        self.entries.iter().map(|(n, _)| n.clone()).collect()
    }

    pub(crate) fn text(&self, name: &str) -> String {
        let (_, data) = self
            .entries
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name} not in zip: {:?}", self.names()));
        String::from_utf8(data.clone()).unwrap()
    }
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    bit: u32,
}

impl Bits<'_> {
    fn bit(&mut self) -> u32 {
        let b = (u32::from(self.data[self.pos]) >> self.bit) & 1;
        self.bit += 1;
        if self.bit == 8 {
            self.bit = 0;
            self.pos += 1;
        }
        b
    }

    fn bits(&mut self, n: u32) -> usize {
        let mut v = 0;
        for i in 0..n {
            v |= (self.bit() as usize) << i;
        }
        v
    }
}

/// Canonical Huffman code as counts per length and symbols in code order.
struct Huffman {
    counts: [u16; 16],
    symbols: Vec<u16>,
}

impl Huffman {
    fn new(lengths: &[u8]) -> Huffman {
        let mut counts = [0u16; 16];
        for &l in lengths {
            counts[l as usize] += 1;
        }
        counts[0] = 0;
        let mut offsets = [0u16; 16];
        for len in 1..15 {
            offsets[len + 1] = offsets[len] + counts[len];
        }
        let mut symbols = vec![0u16; lengths.len()];
        for (sym, &l) in lengths.iter().enumerate() {
            if l != 0 {
                symbols[offsets[l as usize] as usize] = sym as u16;
                offsets[l as usize] += 1;
            }
        }
        Huffman { counts, symbols }
    }

    fn decode(&self, bits: &mut Bits) -> usize {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..16 {
            code |= bits.bit() as i32;
            let count = i32::from(self.counts[len]);
            if code - first < count {
                return self.symbols[(index + code - first) as usize] as usize;
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        panic!("bad huffman code");
    }
}

const LEN_BASE: [usize; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEN_EXTRA: [u32; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DIST_BASE: [usize; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u32; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

/// Raw DEFLATE (as in ZIP method 8).
pub(crate) fn inflate(data: &[u8]) -> Vec<u8> {
    let mut bits = Bits {
        data,
        pos: 0,
        bit: 0,
    };
    let mut out = Vec::new();
    loop {
        let last = bits.bit() == 1;
        match bits.bits(2) {
            0 => {
                if bits.bit != 0 {
                    bits.bit = 0;
                    bits.pos += 1;
                }
                let len = u16::from_le_bytes([data[bits.pos], data[bits.pos + 1]]) as usize;
                bits.pos += 4;
                out.extend_from_slice(&data[bits.pos..bits.pos + len]);
                bits.pos += len;
            }
            1 => {
                let mut lengths = [0u8; 288];
                lengths[..144].fill(8);
                lengths[144..256].fill(9);
                lengths[256..280].fill(7);
                lengths[280..].fill(8);
                let lit = Huffman::new(&lengths);
                let dist = Huffman::new(&[5u8; 30]);
                codes(&mut bits, &mut out, &lit, &dist);
            }
            2 => {
                let nlen = bits.bits(5) + 257;
                let ndist = bits.bits(5) + 1;
                let ncode = bits.bits(4) + 4;
                const ORDER: [usize; 19] = [
                    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
                ];
                let mut code_lengths = [0u8; 19];
                for &i in ORDER.iter().take(ncode) {
                    code_lengths[i] = bits.bits(3) as u8;
                }
                let code = Huffman::new(&code_lengths);
                let mut lengths = Vec::with_capacity(nlen + ndist);
                while lengths.len() < nlen + ndist {
                    let sym = code.decode(&mut bits);
                    let (value, repeat) = match sym {
                        0..=15 => (sym as u8, 1),
                        16 => (
                            *lengths.last().expect("repeat with no length"),
                            3 + bits.bits(2),
                        ),
                        17 => (0, 3 + bits.bits(3)),
                        _ => (0, 11 + bits.bits(7)),
                    };
                    lengths.extend(std::iter::repeat_n(value, repeat));
                }
                let lit = Huffman::new(&lengths[..nlen]);
                let dist = Huffman::new(&lengths[nlen..]);
                codes(&mut bits, &mut out, &lit, &dist);
            }
            t => panic!("bad deflate block type {t}"),
        }
        if last {
            return out;
        }
    }
}

fn codes(bits: &mut Bits, out: &mut Vec<u8>, lit: &Huffman, dist: &Huffman) {
    loop {
        let sym = lit.decode(bits);
        match sym {
            0..=255 => out.push(sym as u8),
            256 => return,
            _ => {
                let i = sym - 257;
                let len = LEN_BASE[i] + bits.bits(LEN_EXTRA[i]);
                let d = dist.decode(bits);
                let back = DIST_BASE[d] + bits.bits(DIST_EXTRA[d]);
                let start = out.len() - back;
                for k in 0..len {
                    out.push(out[start + k]);
                }
            }
        }
    }
}
