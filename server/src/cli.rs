//! The command line: `server` runs the site; the subcommands help run it.
//!
//! Parsed by hand: five subcommands that take at most one path each. clap
//! with derive would add ~27 s to a cold release build on this 2-core machine
//! and 410 KB to the binary (measured on a stub with the same subcommands:
//! 36.4 s and 844 KB against 8.9 s and 435 KB), for no behaviour the site
//! needs; the tests below cover every form.

use std::{ffi::OsString, path::PathBuf};

/// What the binary was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run the site (no arguments).
    Run,
    /// `backup FILE`: a consistent copy of the database, while the site runs.
    Backup(PathBuf),
    /// `restore FILE`: put a backup back (the site stopped).
    Restore(PathBuf),
    /// `init-theme DIR`: write the default theme into a new folder.
    InitTheme(PathBuf),
    /// `doctor`: check the settings and the connections to WeChat and
    /// DeepSeek, and say what to fix.
    Doctor,
    /// `move-to-postgres`: copy the SQLite site (`DATABASE_URL`) into the
    /// empty PostgreSQL database `NEW_DATABASE_URL` names (a URL with a
    /// password stays out of the command line, where `ps` shows it).
    MoveToPostgres,
    Help,
    Version,
}

pub const USAGE: &str = "\
文思网站服务器

用法：
  server                   运行网站（设置来自环境变量或当前目录的 .env）
  server backup 文件       在网站运行时备份数据库到一个新文件
  server restore 文件      用备份替换数据库（先停止网站）
  server init-theme 目录   把默认主题写进一个新目录，供你修改
  server doctor            检查设置、数据库以及与微信、DeepSeek 的连接，说明哪里要改
  server move-to-postgres  把 SQLite 里的用户、会话和文章复制到空的 PostgreSQL 库
                           （目标库地址放在 NEW_DATABASE_URL 里；先停止网站）
  server --help            显示本说明
  server --version         显示版本

Usage: server [backup FILE | restore FILE | init-theme DIR | doctor | move-to-postgres | --help | --version]
";

/// A command line that is not one of [`USAGE`]'s forms; says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, UsageError> {
    let mut args = args.into_iter();
    let Some(first) = args.next() else {
        return Ok(Command::Run);
    };
    let name = first.to_string_lossy().into_owned();
    let command = match name.as_str() {
        "-h" | "--help" | "help" => Command::Help,
        "-V" | "--version" | "version" => Command::Version,
        "backup" => Command::Backup(one_path(&name, "文件", args.next())?),
        "restore" => Command::Restore(one_path(&name, "文件", args.next())?),
        "init-theme" => Command::InitTheme(one_path(&name, "目录", args.next())?),
        "doctor" => Command::Doctor,
        "move-to-postgres" => Command::MoveToPostgres,
        other => {
            return Err(UsageError(format!("不认识的命令“{other}”")));
        }
    };
    if let Some(extra) = args.next() {
        return Err(UsageError(format!(
            "“{name}”后面多了参数“{}”",
            extra.to_string_lossy()
        )));
    }
    Ok(command)
}

fn one_path(command: &str, what: &str, arg: Option<OsString>) -> Result<PathBuf, UsageError> {
    match arg {
        Some(path) if !path.is_empty() && !path.to_string_lossy().starts_with('-') => {
            Ok(PathBuf::from(path))
        }
        _ => Err(UsageError(format!("“{command}”需要一个{what}参数"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(args: &[&str]) -> Result<Command, UsageError> {
        parse(args.iter().map(OsString::from))
    }

    #[test]
    fn every_form_parses() {
        assert_eq!(parse_str(&[]), Ok(Command::Run));
        assert_eq!(
            parse_str(&["backup", "/var/backups/site.db"]),
            Ok(Command::Backup("/var/backups/site.db".into()))
        );
        assert_eq!(
            parse_str(&["restore", "site.db"]),
            Ok(Command::Restore("site.db".into()))
        );
        assert_eq!(
            parse_str(&["init-theme", "theme"]),
            Ok(Command::InitTheme("theme".into()))
        );
        for help in ["-h", "--help", "help"] {
            assert_eq!(parse_str(&[help]), Ok(Command::Help));
        }
        assert_eq!(parse_str(&["--version"]), Ok(Command::Version));
        assert_eq!(parse_str(&["doctor"]), Ok(Command::Doctor));
        assert_eq!(
            parse_str(&["move-to-postgres"]),
            Ok(Command::MoveToPostgres)
        );
    }

    #[test]
    fn wrong_forms_say_why() {
        for args in [
            &["backup"][..],
            &["backup", ""],
            &["backup", "--force"],
            &["init-theme"],
            &["restore", "a.db", "b.db"],
            &["doctor", "--fix"],
            &["serve"],
            &["--port", "80"],
        ] {
            let err = parse_str(args).unwrap_err();
            assert!(!err.0.is_empty(), "{args:?}");
        }
        assert!(parse_str(&["backup"]).unwrap_err().0.contains("文件"));
        assert!(parse_str(&["serve"]).unwrap_err().0.contains("serve"));
    }
}
