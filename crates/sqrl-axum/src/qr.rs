//! QR codes of SQRL URLs, as SVG and PNG (error correction M, 4-module quiet zone).
//!
//! The QR image is fetched by the page (`/sqrl/qr.svg`), so a login code itself costs no
//! rendering. Encoding uses one fixed mask pattern: choosing the "best" of the eight scores
//! all of them and costs most of the time, while any mask gives a valid code (the browser
//! tests decode this one from a screenshot). The SVG is one path of horizontal runs.
//! `BENCHMARKS.md` has the cost of a rendering.

use qrcodegen::{Mask, QrCode, QrCodeEcc, QrSegment, Version};

/// Pixels per module in PNGs, and the SVG's nominal size.
const SCALE: u32 = 6;
/// Quiet zone in modules.
const QUIET: u32 = 4;

/// A QR code's dark modules, row by row.
struct Modules {
    size: u32,
    code: QrCode,
}

impl Modules {
    fn dark(&self, x: u32, y: u32) -> bool {
        match (i32::try_from(x), i32::try_from(y)) {
            (Ok(x), Ok(y)) => self.code.get_module(x, y),
            _ => false,
        }
    }
}

fn encode(text: &str) -> Option<Modules> {
    let segments = QrSegment::make_segments(text);
    let code = QrCode::encode_segments_advanced(
        &segments,
        QrCodeEcc::Medium,
        Version::MIN,
        Version::MAX,
        Some(Mask::new(0)),
        false,
    )
    .ok()?;
    let size = u32::try_from(code.size()).ok()?;
    Some(Modules { size, code })
}

/// An SVG QR code of `text`, sized like the PNG (`SCALE` pixels per module) so that an `<img>`
/// without CSS shows it at a scannable size, and scaling without blurred module edges.
pub fn svg(text: &str) -> Option<String> {
    let code = encode(text)?;
    let full = code.size + 2 * QUIET;
    let side = full * SCALE;
    let mut path = String::with_capacity(8 * 1024);
    for y in 0..code.size {
        let mut x = 0;
        while x < code.size {
            if !code.dark(x, y) {
                x += 1;
                continue;
            }
            let start = x;
            while x < code.size && code.dark(x, y) {
                x += 1;
            }
            let run = x - start;
            path.push('M');
            push_number(&mut path, start + QUIET);
            path.push(' ');
            push_number(&mut path, y + QUIET);
            path.push('h');
            push_number(&mut path, run);
            path.push_str("v1h-");
            push_number(&mut path, run);
            path.push('z');
        }
    }
    Some(format!(
        "<svg width=\"{side}\" height=\"{side}\" shape-rendering=\"crispEdges\" \
         viewBox=\"0 0 {full} {full}\" xmlns=\"http://www.w3.org/2000/svg\">\
         <rect width=\"{full}\" height=\"{full}\" fill=\"#fff\"/>\
         <path fill=\"#000\" d=\"{path}\"/></svg>"
    ))
}

/// Appends `n` in decimal (the formatting machinery costs more than the whole encoding here).
fn push_number(out: &mut String, n: u32) {
    let mut digits = [0u8; 10];
    let mut rest = n;
    let mut len = 0;
    for digit in digits.iter_mut() {
        // `rest % 10` is below 10.
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
        len += 1;
        if rest == 0 {
            break;
        }
    }
    for &digit in digits.iter().take(len).rev() {
        out.push(char::from(digit));
    }
}

/// The dark modules of `text`'s QR code, row by row, with its side length.
pub fn modules(text: &str) -> Option<(usize, Vec<bool>)> {
    let code = encode(text)?;
    let dark = (0..code.size)
        .flat_map(|y| (0..code.size).map(move |x| (x, y)))
        .map(|(x, y)| code.dark(x, y))
        .collect();
    Some((usize::try_from(code.size).ok()?, dark))
}

/// A PNG QR code of `text`: one bit per pixel, each row of modules repeated `SCALE` times.
pub fn png(text: &str) -> Option<Vec<u8>> {
    let code = encode(text)?;
    let side = (code.size + 2 * QUIET) * SCALE;
    let row_bytes = usize::try_from(side.div_ceil(8)).ok()?;
    let mut pixels = Vec::with_capacity(row_bytes * usize::try_from(side).ok()?);
    let mut row = vec![0u8; row_bytes];
    for y in 0..side {
        if y % SCALE == 0 {
            // A new row of modules: white is 1 in a one-bit grey image.
            for (i, byte) in row.iter_mut().enumerate() {
                let mut bits = 0u8;
                for bit in 0..8u32 {
                    let x = u32::try_from(i).ok()?.saturating_mul(8).saturating_add(bit);
                    let dark = match (
                        (x / SCALE).checked_sub(QUIET),
                        (y / SCALE).checked_sub(QUIET),
                    ) {
                        (Some(mx), Some(my)) => code.dark(mx, my),
                        _ => false,
                    };
                    bits = (bits << 1) | u8::from(!dark);
                }
                *byte = bits;
            }
        }
        pixels.extend_from_slice(&row);
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::One);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header().ok()?;
    writer.write_image_data(&pixels).ok()?;
    writer.finish().ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    const URL: &str = "sqrl://example.com/sqrl?nut=abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789";

    #[test]
    fn renders_both_formats() {
        let svg = super::svg(URL).unwrap();
        let (size, _) = super::modules(URL).unwrap();
        let side = (size + 8) * 6;
        assert!(
            svg.starts_with(&format!(
                "<svg width=\"{side}\" height=\"{side}\" shape-rendering=\"crispEdges\" viewBox=\"0 0 {} {}\"",
                size + 8,
                size + 8
            )),
            "{svg}"
        );
        let png = super::png(URL).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let (size, dark) = super::modules(URL).unwrap();
        assert_eq!(dark.len(), size * size);
        // finder pattern corners are dark
        assert!(dark[0] && dark[size - 1] && dark[(size - 1) * size]);
    }

    /// The SVG's runs cover exactly the dark modules (each run `M x y h n v1 h-n z`).
    #[test]
    fn svg_path_draws_exactly_the_dark_modules() {
        let (size, dark) = super::modules(URL).unwrap();
        let svg = super::svg(URL).unwrap();
        let path = svg
            .split(" d=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let mut drawn = vec![false; size * size];
        for run in path.split('z').filter(|r| !r.is_empty()) {
            let run = run.strip_prefix('M').unwrap();
            let (xy, rest) = run.split_once('h').unwrap();
            let (x, y) = xy.split_once(' ').unwrap();
            let n: usize = rest.split_once('v').unwrap().0.parse().unwrap();
            let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
            for i in 0..n {
                let cell = &mut drawn[(y - 4) * size + x - 4 + i];
                assert!(!*cell, "drawn twice");
                *cell = true;
            }
        }
        assert_eq!(drawn, dark);
    }

    /// The PNG decodes to the modules at 6 pixels each inside a 4-module white border.
    #[test]
    fn png_decodes_to_the_modules() {
        let (size, dark) = super::modules(URL).unwrap();
        let png = super::png(URL).unwrap();
        let image = image::load_from_memory(&png).unwrap().to_luma8();
        assert_eq!(image.width() as usize, (size + 8) * 6);
        for (i, &d) in dark.iter().enumerate() {
            let (x, y) = ((i % size + 4) * 6 + 3, (i / size + 4) * 6 + 3);
            assert_eq!(image.get_pixel(x as u32, y as u32).0[0] == 0, d);
        }
        assert_eq!(image.get_pixel(1, 1).0[0], 255);
    }
}
