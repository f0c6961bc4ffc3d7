//! The phone's long-press 识别图中二维码: reads the QR code in a picture, as
//! WeChat does when its visitor long-presses an `<img>` in a page. The phone
//! then handles the URL it found like a scan (`phone::scan`): a 服务号's
//! parametric code opens the account and pushes the same subscribe/SCAN
//! event, which is what the site's long-press login relies on.
//!
//! The picture comes as the page has it: a `data:image/png;base64,…` URL
//! (the login dialog's `qr_png`). Only PNG is read; size and dimensions are
//! bounded before decoding, so a hostile picture costs little.

use base64::{engine::general_purpose::STANDARD, Engine as _};

use super::phone_error::PhoneError;

/// The longest data URL taken (a login QR is about 2 KB of base64).
pub const MAX_DATA_URL: usize = 256 * 1024;
/// The widest or tallest picture decoded.
const MAX_SIDE: u32 = 2048;

const PREFIX: &str = "data:image/png;base64,";

/// The text of the one QR code in the PNG picture `data_url`.
pub fn read_qr(data_url: &str) -> Result<String, PhoneError> {
    let bad = |why: &str| PhoneError::BadRequest(why.to_owned());
    if data_url.len() > MAX_DATA_URL {
        return Err(bad("图片太大（最多 256 KB）"));
    }
    let encoded = data_url
        .strip_prefix(PREFIX)
        .ok_or_else(|| bad("图片应是 data:image/png;base64, 开头的 PNG"))?;
    let file = STANDARD
        .decode(encoded)
        .map_err(|_| bad("图片的 base64 编码不对"))?;
    let (width, height, pixels) = grey_pixels(&file).ok_or_else(|| bad("不是能读的 PNG 图片"))?;
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| pixels[y * width + x]);
    image
        .detect_grids()
        .iter()
        .find_map(|grid| grid.decode().ok().map(|(_, text)| text))
        .ok_or_else(|| bad("图片里没有识别到二维码"))
}

/// The picture as one byte of grey per pixel, or `None` if it is not a PNG
/// this reads (or too big).
fn grey_pixels(file: &[u8]) -> Option<(usize, usize, Vec<u8>)> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(file));
    decoder.set_limits(png::Limits {
        bytes: (MAX_SIDE * MAX_SIDE * 4) as usize,
    });
    // Palettes and low bit depths become plain 8-bit samples; 16-bit
    // samples become 8-bit.
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().ok()?;
    let (width, height) = {
        let info = reader.info();
        (info.width, info.height)
    };
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return None;
    }
    let mut buffer = vec![0; reader.output_buffer_size()?];
    let frame = reader.next_frame(&mut buffer).ok()?;
    let channels = frame.color_type.samples();
    let (width, height) = (width as usize, height as usize);
    let mut grey = Vec::with_capacity(width * height);
    for row in buffer.chunks(frame.line_size).take(height) {
        for pixel in row.chunks(channels).take(width) {
            // Grey(+alpha) is its first sample; colour the mean of RGB.
            // A transparent pixel is paper: white.
            let value = match pixel {
                [g] => *g,
                [g, a] => {
                    if *a < 128 {
                        255
                    } else {
                        *g
                    }
                }
                [r, g, b] => ((*r as u16 + *g as u16 + *b as u16) / 3) as u8,
                [r, g, b, a] => {
                    if *a < 128 {
                        255
                    } else {
                        ((*r as u16 + *g as u16 + *b as u16) / 3) as u8
                    }
                }
                _ => return None,
            };
            grey.push(value);
        }
    }
    (grey.len() == width * height).then_some((width, height, grey))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qr_png(url: &str) -> String {
        crate::wechat_login::qr::png_data_url(url).unwrap()
    }

    #[test]
    fn reads_the_login_dialogs_picture() {
        let url = "http://127.0.0.1:3000/sandbox/wechat/q/abcDEF123_-";
        assert_eq!(read_qr(&qr_png(url)).unwrap(), url);
    }

    #[test]
    fn refuses_what_is_not_a_png_with_a_code() {
        let blank = {
            let mut file = Vec::new();
            let mut encoder = png::Encoder::new(&mut file, 64, 64);
            encoder.set_color(png::ColorType::Grayscale);
            let mut writer = encoder.write_header().unwrap();
            writer.write_image_data(&[255; 64 * 64]).unwrap();
            writer.finish().unwrap();
            format!("{PREFIX}{}", STANDARD.encode(file))
        };
        let huge_header = {
            // A valid signature and IHDR claiming 100 000 × 100 000.
            let good = STANDARD
                .decode(qr_png("x").strip_prefix(PREFIX).unwrap())
                .unwrap();
            let mut file = good.clone();
            file[16..20].copy_from_slice(&100_000u32.to_be_bytes());
            file[20..24].copy_from_slice(&100_000u32.to_be_bytes());
            format!("{PREFIX}{}", STANDARD.encode(file))
        };
        for hostile in [
            String::new(),
            "http://example.com/qr.png".into(),
            "data:image/svg+xml;base64,PHN2Zz4=".into(),
            format!("{PREFIX}not base64!"),
            format!("{PREFIX}{}", STANDARD.encode(b"GIF89a not a png")),
            format!("{PREFIX}{}", "A".repeat(MAX_DATA_URL)),
            blank,
            huge_header,
        ] {
            let err = read_qr(&hostile).unwrap_err();
            assert!(
                matches!(err, PhoneError::BadRequest(_)),
                "{}: {err:?}",
                &hostile[..hostile.len().min(40)]
            );
        }
    }
}
