use super::*;
use crate::response::Usage;
use proptest::prelude::*;

/// A DeepSeek stream in thinking mode, shaped like the real thing: a
/// keep-alive while busy, a role-only first chunk, reasoning, answer with
/// Chinese text, a final chunk with `finish_reason` and `usage`, `[DONE]`.
pub(crate) const STREAM: &str = concat!(
    ": keep-alive\n\n",
    ": keep-alive\n\n",
    r#"data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"deepseek-flash","choices":[{"index":0,"delta":{"role":"assistant","content":null,"reasoning_content":""},"logprobs":null,"finish_reason":null}],"usage":null}"#,
    "\n\n",
    r#"data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"deepseek-flash","choices":[{"index":0,"delta":{"content":null,"reasoning_content":"先想想结构。"},"logprobs":null,"finish_reason":null}],"usage":null}"#,
    "\n\n",
    r##"data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"deepseek-flash","choices":[{"index":0,"delta":{"content":"# 春天的","reasoning_content":null},"logprobs":null,"finish_reason":null}],"usage":null}"##,
    "\n\n",
    ": keep-alive\n\n",
    r#"data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"deepseek-flash","choices":[{"index":0,"delta":{"content":"茶🍵\n\n- 一"},"logprobs":null,"finish_reason":null}],"usage":null}"#,
    "\n\n",
    r#"data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"deepseek-flash","choices":[{"index":0,"delta":{"content":""},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":9,"total_tokens":21,"prompt_tokens_details":{"cached_tokens":0},"prompt_cache_hit_tokens":0,"prompt_cache_miss_tokens":12,"completion_tokens_details":{"reasoning_tokens":4}}}"#,
    "\n\n",
    "data: [DONE]\n\n",
);

fn expected() -> Vec<EventResult> {
    vec![
        Ok(ChatEvent::Reasoning("先想想结构。".into())),
        Ok(ChatEvent::Text("# 春天的".into())),
        Ok(ChatEvent::Text("茶🍵\n\n- 一".into())),
        Ok(ChatEvent::Finished(FinishReason::Stop)),
        Ok(ChatEvent::Usage(Usage {
            prompt_tokens: 12,
            completion_tokens: 9,
            total_tokens: 21,
            prompt_cache_hit_tokens: 0,
            prompt_cache_miss_tokens: 12,
            reasoning_tokens: 4,
        })),
        Ok(ChatEvent::Done),
    ]
}

fn run(chunks: Vec<Result<Vec<u8>, Error>>) -> Vec<EventResult> {
    let bytes = stream::iter(chunks.into_iter().map(|c| c.map(Bytes::from)));
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(decode(bytes).collect())
}

fn whole(text: &str) -> Vec<EventResult> {
    run(vec![Ok(text.as_bytes().to_vec())])
}

/// Cuts `bytes` at the given positions (sorted, deduplicated).
fn split_at(bytes: &[u8], mut cuts: Vec<usize>) -> Vec<Result<Vec<u8>, Error>> {
    cuts.retain(|&c| c > 0 && c < bytes.len());
    cuts.sort_unstable();
    cuts.dedup();
    let mut chunks = Vec::new();
    let mut start = 0;
    for cut in cuts {
        chunks.push(Ok(bytes[start..cut].to_vec()));
        start = cut;
    }
    chunks.push(Ok(bytes[start..].to_vec()));
    chunks
}

#[test]
fn a_whole_stream_gives_reasoning_text_finish_usage_done() {
    assert_eq!(whole(STREAM), expected());
}

#[test]
fn one_byte_at_a_time_gives_the_same_events() {
    let bytes = STREAM.as_bytes();
    let chunks = bytes.iter().map(|&b| Ok(vec![b])).collect();
    assert_eq!(run(chunks), expected());
}

#[test]
fn utf8_split_inside_a_character_is_joined() {
    let bytes = STREAM.as_bytes();
    // Inside "春" (3 bytes) and inside "🍵" (4 bytes).
    let spring = STREAM.find("春").unwrap();
    let tea = STREAM.find("🍵").unwrap();
    let chunks = split_at(bytes, vec![spring + 1, spring + 2, tea + 1, tea + 3]);
    assert_eq!(run(chunks), expected());
}

#[test]
fn crlf_line_endings_are_read_too() {
    assert_eq!(whole(&STREAM.replace("\n", "\r\n")), expected());
}

#[test]
fn keep_alives_alone_produce_nothing() {
    let text = format!("{}{}", ": keep-alive\n\n".repeat(50), "data: [DONE]\n\n");
    assert_eq!(whole(&text), vec![Ok(ChatEvent::Done)]);
}

#[test]
fn nothing_after_done_is_read() {
    let text = format!("{STREAM}data: {{not json\n\n");
    assert_eq!(whole(&text), expected());
}

#[test]
fn a_stream_cut_before_done_is_an_error_after_what_arrived() {
    let cut = STREAM.find("data: [DONE]").unwrap();
    let events = whole(&STREAM[..cut]);
    let mut want = expected();
    want.pop();
    assert_eq!(&events[..want.len()], &want[..]);
    assert!(matches!(events.last(), Some(Err(Error::StreamCut(_)))));
    assert_eq!(events.len(), want.len() + 1);
}

#[test]
fn a_half_written_event_at_the_end_is_not_taken() {
    let events = whole(r#"data: {"choices":[{"delta":{"content":"半"}}]}"#);
    assert!(matches!(events.as_slice(), [Err(Error::StreamCut(_))]));
}

#[test]
fn a_malformed_chunk_ends_the_stream_with_an_error() {
    let text = concat!(
        r#"data: {"choices":[{"delta":{"content":"好"}}]}"#,
        "\n\n",
        "data: {\"choices\":[{\"delta\":\n\n",
        r#"data: {"choices":[{"delta":{"content":"never"}}]}"#,
        "\n\n",
    );
    let events = whole(text);
    assert_eq!(events[0], Ok(ChatEvent::Text("好".into())));
    assert!(matches!(events[1], Err(Error::Malformed(_))));
    assert_eq!(events.len(), 2);
}

#[test]
fn an_error_object_in_the_stream_is_reported() {
    let events =
        whole("data: {\"error\":{\"message\":\"Content Exists Risk\",\"type\":\"x\"}}\n\n");
    assert_eq!(
        events,
        vec![Err(Error::InStream("Content Exists Risk".into()))]
    );
}

#[test]
fn invalid_utf8_is_malformed() {
    let events = run(vec![
        Ok(b"data: \xff\xfe\n\n".to_vec()),
        Ok(b"data: [DONE]\n\n".to_vec()),
    ]);
    assert!(
        matches!(events.as_slice(), [Err(Error::Malformed(_))]),
        "{events:?}"
    );
}

#[test]
fn an_endless_line_is_refused_before_it_fills_memory() {
    let chunk = vec![b'a'; 64 * 1024];
    let chunks = std::iter::once(Ok(b"data: ".to_vec()))
        .chain(std::iter::repeat_n(Ok(chunk), 17))
        .collect();
    let events = run(chunks);
    assert!(
        matches!(events.as_slice(), [Err(Error::Malformed(_))]),
        "{events:?}"
    );
}

#[test]
fn a_transport_error_passes_through_and_ends_the_stream() {
    let events = run(vec![
        Ok(b"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n".to_vec()),
        Err(Error::StreamCut("connection reset".into())),
        Ok(b"data: [DONE]\n\n".to_vec()),
    ]);
    assert_eq!(
        events,
        vec![
            Ok(ChatEvent::Text("a".into())),
            Err(Error::StreamCut("connection reset".into()))
        ]
    );
}

#[test]
fn a_whole_answer_is_read_after_keep_alive_blank_lines() {
    let body = "\n\n\n{\"id\":\"x\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"正文\",\"reasoning_content\":\"想\"},\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3}}";
    let whole = completion(body.as_bytes()).unwrap();
    assert_eq!(whole.content, "正文");
    assert_eq!(whole.reasoning, "想");
    assert_eq!(whole.finish_reason, Some(FinishReason::Length));
    assert_eq!(whole.usage.unwrap().total_tokens, 3);
    assert!(matches!(
        completion(b"{\"choices\":[]}"),
        Err(Error::Malformed(_))
    ));
    assert!(matches!(completion(b"<html>"), Err(Error::Malformed(_))));
}

#[test]
fn collected_events_make_the_completion() {
    let mut collected = Completion::default();
    for event in expected() {
        collected.apply(&event.unwrap());
    }
    assert_eq!(collected.reasoning, "先想想结构。");
    assert_eq!(collected.content, "# 春天的茶🍵\n\n- 一");
    assert_eq!(collected.finish_reason, Some(FinishReason::Stop));
    assert_eq!(collected.usage.unwrap().reasoning_tokens, 4);
}

#[test]
fn long_messages_are_shortened_on_a_character_boundary() {
    let long = "错".repeat(400);
    let short = truncate(&long);
    assert_eq!(short.chars().count(), 301);
    assert!(short.ends_with('…'));
    assert_eq!(truncate("短"), "短");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// However the network cuts a valid stream into chunks, the events are
    /// the same.
    #[test]
    fn any_chunking_gives_the_same_events(cuts in prop::collection::vec(0..STREAM.len(), 0..40)) {
        prop_assert_eq!(run(split_at(STREAM.as_bytes(), cuts)), expected());
    }

    /// Arbitrary bytes never panic and always end (with `Done` or an error).
    #[test]
    fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512),
                            cuts in prop::collection::vec(0..512usize, 0..8)) {
        let events = run(split_at(&bytes, cuts));
        let last_is_final = matches!(events.last(), Some(Ok(ChatEvent::Done)) | Some(Err(_)));
        prop_assert!(last_is_final, "{:?}", events);
        prop_assert!(events.iter().filter(|e| e.is_err()).count() <= 1);
    }
}
