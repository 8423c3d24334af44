//! Logging: text for people, JSON for log collectors; colour only on a
//! terminal. The format comes from `--log-format`, else `GRIDSENSE_LOG_FORMAT`,
//! else `[log] format` in the configuration file, else text. `RUST_LOG`
//! picks what is logged.

use std::io::IsTerminal as _;

use serde::Deserialize;

/// The environment variable that picks the format (`text`, `json`).
pub const FORMAT_ENV: &str = "GRIDSENSE_LOG_FORMAT";

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One line of text per event; ANSI colour only when stdout is a terminal
    /// and `NO_COLOR` is unset.
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `fields`, `span`).
    Json,
}

impl LogFormat {
    /// Parses `text` or `json`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Some(Self::Text),
            "json" => Some(Self::Json),
            _ => None,
        }
    }
}

/// `[log]`: how the gateway writes its log.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    /// `text` (default) or `json`. `--log-format` and `GRIDSENSE_LOG_FORMAT`
    /// take precedence.
    #[serde(default)]
    pub format: Option<LogFormat>,
}

/// The format to use: the flag, else the environment, else the file's.
/// An unknown value in the environment is reported on stderr and ignored.
pub fn choose(flag: Option<LogFormat>, file: Option<LogFormat>) -> LogFormat {
    if let Some(f) = flag {
        return f;
    }
    if let Ok(v) = std::env::var(FORMAT_ENV) {
        match LogFormat::parse(&v) {
            Some(f) => return f,
            None => eprintln!("warning: {FORMAT_ENV}={v:?} is not text or json; ignored"),
        }
    }
    file.unwrap_or_default()
}

/// Whether text lines get ANSI colour: only on a terminal, never with `NO_COLOR`.
pub fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Sets up logging: `RUST_LOG` if set, else info for the gateway. rumqttd
/// logs every ordinary disconnect as an error, so it is off unless asked for
/// (`RUST_LOG=rumqttd=warn`). A second call does nothing.
pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("gateway=info,gridsense=info,rumqttd=off,warn")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder.with_ansi(colour()).try_init(),
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_and_the_flag_wins() {
        assert_eq!(LogFormat::parse("JSON"), Some(LogFormat::Json));
        assert_eq!(LogFormat::parse("text"), Some(LogFormat::Text));
        assert_eq!(LogFormat::parse("xml"), None);
        assert_eq!(
            choose(Some(LogFormat::Text), Some(LogFormat::Json)),
            LogFormat::Text
        );
        let s: LogSection = toml::from_str("format = \"json\"").expect("parse");
        assert_eq!(s.format, Some(LogFormat::Json));
        assert!(toml::from_str::<LogSection>("format = \"xml\"").is_err());
    }
}
