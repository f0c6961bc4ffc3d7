//! What the doctor found, and how it is written on the operator's terminal.

use std::fmt::Write as _;

use secrecy::{ExposeSecret, SecretString};

/// How one check went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Works.
    Ok,
    /// Works, but something deserves a look (sandbox mode, plain mode, no
    /// PUBLIC_URL…). Does not fail the run.
    Warn,
    /// Broken: the site will not work until it is fixed. The run exits
    /// non-zero.
    Fail,
    /// Not checked, because something it needs is broken.
    Skipped,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "[正常]",
            Status::Warn => "[注意]",
            Status::Fail => "[错误]",
            Status::Skipped => "[跳过]",
        }
    }
}

/// One check's result: what was checked, what was found, what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub status: Status,
    /// What was checked, e.g. "微信凭据".
    pub topic: &'static str,
    /// What was found, one sentence.
    pub summary: String,
    /// What to do about it, when something is to be done.
    pub advice: Option<String>,
}

impl Finding {
    pub fn ok(topic: &'static str, summary: impl Into<String>) -> Self {
        Self::new(Status::Ok, topic, summary, None)
    }

    pub fn warn(
        topic: &'static str,
        summary: impl Into<String>,
        advice: impl Into<String>,
    ) -> Self {
        Self::new(Status::Warn, topic, summary, Some(advice.into()))
    }

    pub fn fail(
        topic: &'static str,
        summary: impl Into<String>,
        advice: impl Into<String>,
    ) -> Self {
        Self::new(Status::Fail, topic, summary, Some(advice.into()))
    }

    pub fn skipped(topic: &'static str, why: impl Into<String>) -> Self {
        Self::new(Status::Skipped, topic, why, None)
    }

    fn new(
        status: Status,
        topic: &'static str,
        summary: impl Into<String>,
        advice: Option<String>,
    ) -> Self {
        Self {
            status,
            topic,
            summary: summary.into(),
            advice,
        }
    }
}

/// What to enter in the WeChat console (基本配置 → 服务器配置). The Token
/// and the key are the operator's own secrets: they are written to his
/// terminal only, never to a log or a redirected output.
#[derive(Clone, Debug)]
pub struct ConsoleValues {
    /// `{PUBLIC_URL}/wechat/callback`, when PUBLIC_URL is set.
    pub url: Option<String>,
    pub token: SecretString,
    pub encoding_aes_key: Option<SecretString>,
}

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub console: Option<ConsoleValues>,
}

impl Report {
    pub fn push(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    /// Whether something is broken (the command then exits non-zero).
    pub fn failed(&self) -> bool {
        self.findings.iter().any(|f| f.status == Status::Fail)
    }

    /// The finding about `topic`, for tests.
    pub fn find(&self, topic: &str) -> Option<&Finding> {
        self.findings.iter().find(|f| f.topic == topic)
    }

    /// The report as the operator reads it. `show_secrets`: the output is
    /// his terminal (not a file, a pipe or the journal), so the Token and
    /// the EncodingAESKey may be shown for him to copy.
    pub fn render(&self, show_secrets: bool) -> String {
        let mut out = String::new();
        out.push_str(
            "文思 server doctor：检查设置、数据库以及与微信、DeepSeek 的连接（不修改任何数据）\n\n",
        );
        for finding in &self.findings {
            let _ = writeln!(
                out,
                "{} {}：{}",
                finding.status.label(),
                finding.topic,
                finding.summary
            );
            if let Some(advice) = &finding.advice {
                let _ = writeln!(out, "       怎么办：{advice}");
            }
        }
        if let Some(console) = &self.console {
            out.push('\n');
            out.push_str(&console.render(show_secrets));
        }
        let count = |status| self.findings.iter().filter(|f| f.status == status).count();
        let (fails, warns) = (count(Status::Fail), count(Status::Warn));
        out.push('\n');
        out.push_str(&match (fails, warns) {
            (0, 0) => "结果：全部正常。\n".to_owned(),
            (0, w) => format!("结果：没有错误，{w} 项需要注意（见上面的“怎么办”）。\n"),
            (f, 0) => format!("结果：{f} 项错误。按上面的“怎么办”改好后，再运行 server doctor。\n"),
            (f, w) => format!(
                "结果：{f} 项错误，{w} 项需要注意。按上面的“怎么办”改好后，再运行 server doctor。\n"
            ),
        });
        out
    }
}

impl ConsoleValues {
    fn render(&self, show_secrets: bool) -> String {
        let mut out = String::from("在微信公众平台“设置与开发 → 基本配置 → 服务器配置”里填写：\n");
        match &self.url {
            Some(url) => {
                let _ = writeln!(out, "  URL：{url}");
            }
            None => out.push_str(
                "  URL：https://你的域名/wechat/callback（设置 PUBLIC_URL 后这里会写出完整地址）\n",
            ),
        }
        if show_secrets {
            let _ = writeln!(out, "  Token：{}", self.token.expose_secret());
            match &self.encoding_aes_key {
                Some(key) => {
                    let _ = writeln!(out, "  EncodingAESKey：{}", key.expose_secret());
                    out.push_str("  消息加解密方式：安全模式\n");
                }
                None => out.push_str("  消息加解密方式：明文模式（不建议，见上面“消息加密”）\n"),
            }
            out.push_str(
                "  （Token 和 EncodingAESKey 是你的密钥：只显示在你自己的终端里，doctor 不写日志。不要截图或转发给别人。）\n",
            );
        } else {
            out.push_str(
                "  Token、EncodingAESKey：输出不是终端（被重定向到了文件、管道或日志），为了不让密钥留在那里，这里不显示。\n  在终端里直接运行 server doctor 就能看到；它们也就是 .env 里的 WECHAT_TOKEN 和 WECHAT_ENCODING_AES_KEY。\n",
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAKE_TOKEN: &str = "faketoken123";
    const FAKE_KEY: &str = "FakeAesKeyForTestsOnly000000000000000000000";

    fn report() -> Report {
        Report {
            findings: vec![
                Finding::ok("设置", "齐全"),
                Finding::warn("管理员", "没有设置", "设置 ADMIN_OPENIDS"),
            ],
            console: Some(ConsoleValues {
                url: Some("https://example.com/wechat/callback".into()),
                token: SecretString::from(FAKE_TOKEN),
                encoding_aes_key: Some(SecretString::from(FAKE_KEY)),
            }),
        }
    }

    #[test]
    fn secrets_only_on_a_terminal() {
        let report = report();
        let shown = report.render(true);
        assert!(
            shown.contains(FAKE_TOKEN) && shown.contains(FAKE_KEY),
            "{shown}"
        );
        assert!(shown.contains("https://example.com/wechat/callback"));
        let hidden = report.render(false);
        assert!(
            !hidden.contains(FAKE_TOKEN) && !hidden.contains(FAKE_KEY),
            "{hidden}"
        );
        assert!(hidden.contains("不显示"), "{hidden}");
        assert!(!format!("{report:?}").contains(FAKE_TOKEN));
    }

    #[test]
    fn each_finding_has_its_label_and_advice() {
        let mut report = report();
        let text = report.render(false);
        assert!(text.contains("[正常] 设置：齐全"), "{text}");
        assert!(
            text.contains("[注意] 管理员：没有设置\n       怎么办：设置 ADMIN_OPENIDS"),
            "{text}"
        );
        assert!(text.contains("没有错误，1 项需要注意"), "{text}");
        assert!(!report.failed());
        report.push(Finding::fail("数据库", "不可写", "改权限"));
        assert!(report.failed());
        assert!(report.render(false).contains("1 项错误，1 项需要注意"));
    }
}
