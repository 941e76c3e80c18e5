//! Reading a `sqrl://` URL from a picture of a QR code.

use std::path::Path;

use crate::failure::{Failure, Kind};

/// Decodes every QR code in the image and returns the first `sqrl://` URL.
pub(crate) fn read_sqrl_url(path: &Path) -> Result<String, Failure> {
    let image = image::open(path)
        .map_err(|e| Failure::new(Kind::Input, format!("cannot read {}: {e}", path.display())))?
        .to_luma8();
    let (width, height) = image.dimensions();
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(width as usize, height as usize, |x, y| {
            image.get_pixel(x as u32, y as u32).0[0]
        });
    let grids = prepared.detect_grids();
    if grids.is_empty() {
        return Err(Failure::new(
            Kind::Input,
            format!("no QR code found in {}", path.display()),
        ));
    }
    let mut seen_other = false;
    for grid in grids {
        if let Ok((_, content)) = grid.decode() {
            if content
                .get(..7)
                .is_some_and(|s| s.eq_ignore_ascii_case("sqrl://"))
            {
                return Ok(content);
            }
            seen_other = true;
        }
    }
    let message = if seen_other {
        "the QR code does not hold a sqrl:// link"
    } else {
        "the QR code could not be decoded"
    };
    Err(Failure::new(Kind::Input, message))
}
