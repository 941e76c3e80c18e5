//! QR codes of SQRL URLs, as SVG and PNG (error correction M, 4-module quiet zone).
//!
//! The QR image is fetched by the page (`/sqrl/qr.svg`), so a login code itself costs no
//! rendering; `BENCHMARKS.md` has the cost of a rendering.

use fast_qr::qr::QRBuilder;
use fast_qr::ECL;

/// Pixels per module in PNGs.
const SCALE: u32 = 6;
/// Quiet zone in modules.
const QUIET: u32 = 4;

/// Encodes with one fixed mask pattern. Choosing the "best" of the eight masks scores all of
/// them and costs most of the encoding time; any mask gives a valid code, and the browser
/// tests decode this one from a screenshot.
fn encode(text: &str) -> Option<fast_qr::QRCode> {
    QRBuilder::new(text)
        .ecl(ECL::M)
        .mask(fast_qr::Mask::Checkerboard)
        .build()
        .ok()
}

/// An SVG QR code of `text`, sized like the PNG (`SCALE` pixels per module) so that an `<img>`
/// without CSS shows it at a scannable size, and scaling without blurred module edges.
pub fn svg(text: &str) -> Option<String> {
    let code = encode(text)?;
    let side = (u32::try_from(code.size).ok()? + 2 * QUIET) * SCALE;
    // SvgBuilder's default margin is the standard 4-module quiet zone.
    let svg = fast_qr::convert::svg::SvgBuilder::default().to_str(&code);
    let rest = svg.strip_prefix("<svg ")?;
    Some(format!(
        "<svg width=\"{side}\" height=\"{side}\" shape-rendering=\"crispEdges\" {rest}"
    ))
}

/// The dark modules of `text`'s QR code, row by row, with its side length.
pub fn modules(text: &str) -> Option<(usize, Vec<bool>)> {
    let code = encode(text)?;
    let size = code.size;
    // `data` holds the modules row by row.
    let dark = code
        .data
        .get(..size * size)?
        .iter()
        .map(|m| m.value())
        .collect();
    Some((size, dark))
}

/// A PNG QR code of `text`.
pub fn png(text: &str) -> Option<Vec<u8>> {
    let (size, dark) = modules(text)?;
    let side = (u32::try_from(size).ok()? + 2 * QUIET) * SCALE;
    let image = image::GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = (
            (x / SCALE).checked_sub(QUIET),
            (y / SCALE).checked_sub(QUIET),
        );
        let is_dark = match (mx, my) {
            (Some(mx), Some(my)) if (mx as usize) < size && (my as usize) < size => dark
                .get(my as usize * size + mx as usize)
                .copied()
                .unwrap_or(false),
            _ => false,
        };
        image::Luma([if is_dark { 0 } else { 255 }])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).ok()?;
    Some(out.into_inner())
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_both_formats() {
        let url = "sqrl://example.com/sqrl?nut=abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789";
        let svg = super::svg(url).unwrap();
        let (size, _) = super::modules(url).unwrap();
        let side = (size + 8) * 6;
        assert!(
            svg.starts_with(&format!(
                "<svg width=\"{side}\" height=\"{side}\" shape-rendering=\"crispEdges\" viewBox=\"0 0 {} {}\"",
                size + 8,
                size + 8
            )),
            "{svg}"
        );
        let png = super::png(url).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let (size, dark) = super::modules(url).unwrap();
        assert_eq!(dark.len(), size * size);
        // finder pattern corners are dark
        assert!(dark[0] && dark[size - 1] && dark[(size - 1) * size]);
    }
}
