//! The QR image, drawn here from WeChat's ticket URL (never hotlinked from
//! WeChat's `showqrcode`).

use qrcode::{render::svg, EcLevel, QrCode};

/// An inline `<svg>` element encoding `url`.
pub fn svg(url: &str) -> Result<String, qrcode::types::QrError> {
    let code = QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M)?;
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

#[cfg(test)]
mod tests {
    #[test]
    fn renders_an_inline_svg() {
        let svg = super::svg("http://weixin.qq.com/q/02abcdef").unwrap();
        assert!(svg.starts_with("<svg role=\"img\""), "{}", &svg[..60]);
        assert!(svg.ends_with("</svg>"));
        assert!(!svg.contains("<?xml"));
    }
}
