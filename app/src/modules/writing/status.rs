//! A generation's status in words: for the visitor (Chinese) and for CSS
//! and tests (`data-status`).

use super::protocol::GenerationStatus;

/// The word in `data-status` attributes, the same as in the JSON.
pub fn word(status: GenerationStatus) -> &'static str {
    match status {
        GenerationStatus::Queued => "queued",
        GenerationStatus::Running => "running",
        GenerationStatus::Done => "done",
        GenerationStatus::Stopped => "stopped",
        GenerationStatus::Failed => "failed",
        GenerationStatus::Interrupted => "interrupted",
    }
}

/// What the visitor reads.
pub fn label(status: GenerationStatus) -> &'static str {
    match status {
        GenerationStatus::Queued => "排队中",
        GenerationStatus::Running => "正在写",
        GenerationStatus::Done => "已写完",
        GenerationStatus::Stopped => "已停止",
        GenerationStatus::Failed => "没写完",
        GenerationStatus::Interrupted => "被中断",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_is_the_json_name() {
        for status in [
            GenerationStatus::Queued,
            GenerationStatus::Running,
            GenerationStatus::Done,
            GenerationStatus::Stopped,
            GenerationStatus::Failed,
            GenerationStatus::Interrupted,
        ] {
            assert_eq!(
                serde_json::to_string(&status).unwrap(),
                format!("\"{}\"", word(status))
            );
        }
    }
}
