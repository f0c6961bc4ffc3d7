//! The QR image, drawn here from WeChat's ticket URL (never hotlinked from
//! WeChat's `showqrcode`): inline SVG for desktop browsers, and the same
//! code as a PNG for phones. WeChat's long-press 识别图中二维码 and a phone's
//! "save image" work on pictures (`<img>`), not on inline SVG.

use base64::{engine::general_purpose::STANDARD, Engine as _};
use qrcode::{render::svg, types::QrError, Color, EcLevel, QrCode};

/// Pixels per module of the PNG: sharp when shown at 240 CSS pixels on a
/// phone's 2–3× screen, and still about 1 KB as 1-bit PNG.
const PNG_SCALE: usize = 8;
/// Light modules around the code, as the QR standard asks (4).
const QUIET_ZONE: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum QrImageError {
    #[error("the QR code cannot hold this URL: {0}")]
    Encode(#[from] QrError),
    #[error("the QR code's PNG could not be written: {0}")]
    Png(#[from] png::EncodingError),
}

fn code(url: &str) -> Result<QrCode, QrError> {
    QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M)
}

/// An inline `<svg>` element encoding `url`.
pub fn svg(url: &str) -> Result<String, QrImageError> {
    let code = code(url)?;
    let image = code
        .render::<svg::Color>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .dark_color(svg::Color("#111111"))
        .light_color(svg::Color("#ffffff"))
        .build();
    // Inline in HTML: drop the XML declaration, name the image for screen readers.
    let start = image.find("<svg").unwrap_or(0);
    Ok(image[start..].replacen("<svg", r#"<svg role="img" aria-label="微信登录二维码""#, 1))
}

/// The same code as a 1-bit greyscale PNG, as a `data:` URL for an `<img>`
/// (the page's CSP allows `data:` images for this).
pub fn png_data_url(url: &str) -> Result<String, QrImageError> {
    let png = png(url)?;
    Ok(format!("data:image/png;base64,{}", STANDARD.encode(png)))
}

/// The PNG file: black modules on white, with the quiet zone.
pub fn png(url: &str) -> Result<Vec<u8>, QrImageError> {
    let code = code(url)?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET_ZONE) * PNG_SCALE;
    // One bit per pixel, 1 = white (greyscale), rows padded to whole bytes.
    let row_bytes = side.div_ceil(8);
    let mut pixels = vec![0xff_u8; row_bytes * side];
    for (i, color) in colors.iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let (mx, my) = (i % modules + QUIET_ZONE, i / modules + QUIET_ZONE);
        for y in my * PNG_SCALE..(my + 1) * PNG_SCALE {
            for x in mx * PNG_SCALE..(mx + 1) * PNG_SCALE {
                pixels[y * row_bytes + x / 8] &= !(0x80 >> (x % 8));
            }
        }
    }
    let mut file = Vec::with_capacity(2048);
    let side = u32::try_from(side).map_err(|_| QrError::DataTooLong)?;
    let mut encoder = png::Encoder::new(&mut file, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::One);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_an_inline_svg() {
        let svg = super::svg("http://weixin.qq.com/q/02abcdef").unwrap();
        assert!(svg.starts_with("<svg role=\"img\""), "{}", &svg[..60]);
        assert!(svg.ends_with("</svg>"));
        assert!(!svg.contains("<?xml"));
    }

    /// Reads the PNG back and finds the same code in it, module by module.
    #[test]
    fn the_png_holds_the_same_code() {
        let url = "http://weixin.qq.com/q/02abcdef";
        let file = super::png(url).unwrap();
        assert!(file.len() < 2048, "{} bytes", file.len());
        let mut decoder = png::Decoder::new(std::io::Cursor::new(file));
        decoder.set_transformations(png::Transformations::EXPAND);
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        assert_eq!(info.width, info.height);

        let code = super::code(url).unwrap();
        let modules = code.width();
        assert_eq!(
            info.width as usize,
            (modules + 2 * super::QUIET_ZONE) * super::PNG_SCALE
        );
        let dark = |mx: usize, my: usize| {
            // The centre of the module, in the expanded 8-bit greyscale.
            let scale = super::PNG_SCALE;
            let (x, y) = ((mx + 4) * scale + scale / 2, (my + 4) * scale + scale / 2);
            pixels[y * info.line_size + x] < 128
        };
        for (i, color) in code.to_colors().iter().enumerate() {
            assert_eq!(
                dark(i % modules, i / modules),
                *color == qrcode::Color::Dark,
                "module {i}"
            );
        }
        // The quiet zone is white.
        assert!(pixels[..info.line_size * 4 * super::PNG_SCALE]
            .iter()
            .all(|&p| p == 255));
    }

    #[test]
    fn the_data_url_is_a_png() {
        let url = super::png_data_url("http://weixin.qq.com/q/02abcdef").unwrap();
        assert!(
            url.starts_with("data:image/png;base64,iVBORw0KGgo"),
            "{url}"
        );
    }
}
