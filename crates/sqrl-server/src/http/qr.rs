//! QR codes of SQRL URLs, as SVG and PNG.

use qrcode::{EcLevel, QrCode};

/// An SVG QR code of `text` (error correction M; about 1 KiB of markup per code).
pub fn svg(text: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(240, 240)
            .quiet_zone(true)
            .build(),
    )
}

/// A PNG QR code of `text`.
pub fn png(text: &str) -> Option<Vec<u8>> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    let image = code
        .render::<image::Luma<u8>>()
        .min_dimensions(240, 240)
        .build();
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
        assert!(svg.starts_with("<?xml") && svg.contains("<svg"));
        let png = super::png(url).unwrap();
        assert_eq!(&png[1..4], b"PNG");
    }
}
