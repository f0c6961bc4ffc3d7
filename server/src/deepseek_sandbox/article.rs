//! Writes what a [`Brief`] asks for: a plausible Chinese article in
//! Markdown (title, headings, paragraphs, lists, a quote), an outline, or a
//! small JSON object, plus the "reasoning" of thinking mode. The same brief
//! and seed always give the same text.
//!
//! It is a stand-in, not a model: sentences come from templates filled with
//! the title and keywords, enough for a page to look and behave as it will
//! with DeepSeek (length, structure, Markdown, emphasis, streaming).

use serde_json::json;

use super::brief::{Brief, Kind};

/// What the sandbox answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub reasoning: String,
    pub content: String,
}

pub fn write(brief: &Brief, seed: u64, json_output: bool) -> Written {
    let mut pen = Pen::new(brief, seed);
    let headings = pen.headings();
    let reasoning = pen.reasoning(&headings);
    let content = if json_output {
        json!({
            "title": brief.title,
            "kind": brief.kind_label,
            "sections": headings,
            "keywords": pen.keywords,
        })
        .to_string()
    } else if brief.wants_outline {
        pen.outline(&headings)
    } else {
        pen.article(&headings)
    };
    Written { reasoning, content }
}

/// What follows `so_far` in `content`: the rest of the article when
/// `so_far` is its beginning, else what follows as many characters.
pub fn rest_after<'a>(content: &'a str, so_far: &str) -> &'a str {
    if let Some(rest) = content.strip_prefix(so_far) {
        return rest;
    }
    let chars = so_far.chars().count();
    content
        .char_indices()
        .nth(chars)
        .map_or("", |(at, _)| &content[at..])
}

/// Characters a reader would count (no spaces, no Markdown marks).
pub fn visible_chars(text: &str) -> usize {
    text.chars()
        .filter(|c| !c.is_whitespace() && !"#*->`|".contains(*c))
        .count()
}

struct Pen<'a> {
    brief: &'a Brief,
    rng: SplitMix64,
    keywords: Vec<String>,
    next_keyword: usize,
    /// When each template was last used (a counter): the least recently
    /// used of a few candidates is taken, so sentences rarely repeat.
    last_used: std::collections::HashMap<&'static str, usize>,
    uses: usize,
    /// Which list shape each section used, so neighbours differ.
    last_list: usize,
}

impl<'a> Pen<'a> {
    fn new(brief: &'a Brief, seed: u64) -> Self {
        let keywords = if brief.keywords.is_empty() {
            vec![brief.title.clone()]
        } else {
            brief.keywords.clone()
        };
        Self {
            brief,
            rng: SplitMix64(seed),
            keywords,
            next_keyword: 0,
            last_used: std::collections::HashMap::new(),
            uses: 0,
            last_list: usize::MAX,
        }
    }

    fn keyword(&mut self) -> String {
        let keyword = self.keywords[self.next_keyword % self.keywords.len()].clone();
        self.next_keyword += 1;
        keyword
    }

    /// A template from `from`: of four random candidates, the one used
    /// least recently (never used first).
    fn pick(&mut self, from: &[&'static str]) -> &'static str {
        let mut choice = from[self.rng.below(from.len())];
        for _ in 0..3 {
            let other = from[self.rng.below(from.len())];
            let age = |t: &&'static str| self.last_used.get(t).copied().unwrap_or(0);
            if age(&other) < age(&choice) {
                choice = other;
            }
        }
        self.uses += 1;
        self.last_used.insert(choice, self.uses);
        choice
    }

    /// Fills a template: {t} title, {k} next keyword, {kind} kind.
    fn fill(&mut self, template: &str) -> String {
        let mut out = template
            .replace("{t}", &self.brief.title)
            .replace("{kind}", &self.brief.kind_label);
        while out.contains("{k}") {
            let keyword = self.keyword();
            out = out.replacen("{k}", &keyword, 1);
        }
        out
    }

    fn sentence(&mut self) -> String {
        let bank = match self.brief.kind {
            Kind::Product => PRODUCT_SENTENCES,
            Kind::PressRelease => PRESS_SENTENCES,
            Kind::ReadingNotes => READING_SENTENCES,
            Kind::WechatPost => WECHAT_SENTENCES,
            Kind::Blog | Kind::General => GENERAL_SENTENCES,
        };
        let template = if self.rng.below(3) == 0 {
            self.pick(GENERAL_SENTENCES)
        } else {
            self.pick(bank)
        };
        self.fill(template)
    }

    fn paragraph(&mut self, chars: usize) -> String {
        let mut text = String::new();
        while visible_chars(&text) < chars.max(40) {
            text.push_str(&self.sentence());
        }
        text
    }

    fn headings(&mut self) -> Vec<String> {
        if !self.brief.headings.is_empty() {
            return self.brief.headings.clone();
        }
        let count = match self.brief.target_chars {
            0..=800 => 3,
            801..=2000 => 4,
            2001..=4000 => 5,
            _ => 7,
        };
        let bank = match self.brief.kind {
            Kind::WechatPost => WECHAT_HEADINGS,
            Kind::Blog => BLOG_HEADINGS,
            Kind::Product => PRODUCT_HEADINGS,
            Kind::PressRelease => PRESS_HEADINGS,
            Kind::ReadingNotes => READING_HEADINGS,
            Kind::General => GENERAL_HEADINGS,
        };
        bank.iter()
            .chain(GENERAL_HEADINGS)
            .take(count)
            .map(|h| self.fill(h))
            .collect()
    }

    fn reasoning(&mut self, headings: &[String]) -> String {
        let brief = self.brief;
        let keywords = if brief.keywords.is_empty() {
            "没有指定关键词，就围绕标题本身展开".to_owned()
        } else {
            format!(
                "关键词有：{}，要自然地写进正文，不能生硬堆砌",
                brief.keywords.join("、")
            )
        };
        let task = if brief.wants_outline {
            "这次只需要一份大纲，每一节列两三个要点即可".to_owned()
        } else {
            format!("篇幅大约 {} 字", brief.target_chars)
        };
        let tone = brief
            .tone
            .as_deref()
            .map_or("语气自然、亲切".to_owned(), |t| format!("语气要{t}"));
        let plan = headings
            .iter()
            .enumerate()
            .map(|(i, h)| format!("{}. {h}", i + 1))
            .collect::<Vec<_>>()
            .join("\n");
        format!(
            "用户想要一篇{kind}，题目是“{title}”，{task}。\n{keywords}。\n\
             先想想读者是谁：大概是对这个话题感兴趣、但没有太多时间的人，所以开头要直接点题。\n\
             结构上分成 {n} 个部分：\n{plan}\n\
             {tone}，多用短句，每节配小标题，适当用列表和引用，方便在手机上阅读。\n\
             最后检查一下有没有偏题，结尾给读者一个可以马上行动的建议。",
            kind = brief.kind_label,
            title = brief.title,
            n = headings.len(),
        )
    }

    fn outline(&mut self, headings: &[String]) -> String {
        let mut out = format!("# {}\n\n", self.brief.title);
        for (i, heading) in headings.iter().enumerate() {
            out.push_str(&format!("## {}、{heading}\n\n", CHINESE_NUMBERS[i % 10]));
            let points = 2 + self.rng.below(2);
            for _ in 0..points {
                let point = self.pick(OUTLINE_POINTS);
                let point = self.fill(point);
                out.push_str(&format!("- {point}\n"));
            }
            out.push('\n');
        }
        out.trim_end().to_owned() + "\n"
    }

    fn article(&mut self, headings: &[String]) -> String {
        let brief = self.brief;
        let mut out = String::new();
        let sections_only = brief.sections_only;
        if !sections_only {
            out.push_str(&format!("# {}\n\n", brief.title));
        }
        let intro_chars = if sections_only {
            0
        } else {
            brief.target_chars / 8
        };
        let outro_chars = if sections_only {
            0
        } else {
            brief.target_chars / 10
        };
        let per_section = (brief.target_chars.saturating_sub(intro_chars + outro_chars)
            / headings.len().max(1))
        .max(60);
        if !sections_only {
            let opening = self.opening();
            out.push_str(&opening);
            out.push_str(&self.paragraph(intro_chars.saturating_sub(visible_chars(&opening))));
            out.push_str("\n\n");
        }
        for (i, heading) in headings.iter().enumerate() {
            out.push_str(&format!("## {heading}\n\n"));
            let mut section = String::new();
            let lead = per_section * 2 / 5;
            section.push_str(&self.paragraph(lead));
            section.push_str("\n\n");
            let mut list = (i + self.rng.below(3)) % 3;
            if list == self.last_list {
                list = (list + 1) % 3;
            }
            self.last_list = list;
            match list {
                0 => section.push_str(&self.bullets()),
                1 => section.push_str(&self.steps(i)),
                _ => section.push_str(&self.quote()),
            }
            let used = visible_chars(&section);
            if used < per_section {
                section.push_str(&self.paragraph(per_section - used));
                section.push_str("\n\n");
            }
            out.push_str(&section);
        }
        if !sections_only {
            let closing = self.pick(CLOSINGS);
            let closing = self.fill(closing);
            out.push_str("## 结语\n\n");
            out.push_str(&closing);
            out.push_str(&self.paragraph(outro_chars.saturating_sub(visible_chars(&closing))));
            out.push('\n');
        }
        out.trim_end().to_owned() + "\n"
    }

    fn opening(&mut self) -> String {
        let template = match self.brief.kind {
            Kind::PressRelease => "近日，围绕“{t}”的最新进展正式对外发布。",
            Kind::ReadingNotes => {
                "最近读完了一本和“{t}”有关的书，合上书的那一刻，有很多话想记下来。"
            }
            Kind::Product => "今天想向你介绍的，是我们围绕“{t}”打磨了很久的一款产品。",
            Kind::WechatPost => "你有没有想过，{t}其实和我们每个人都有关系？",
            Kind::Blog | Kind::General => "这篇文章想聊聊{t}。",
        };
        self.fill(template)
    }

    fn bullets(&mut self) -> String {
        let mut out = String::new();
        // Keywords as labels when there are enough of them to differ.
        let by_keyword = self.brief.keywords.len() >= 3;
        for _ in 0..3 {
            let keyword = if by_keyword {
                self.keyword()
            } else {
                self.pick(BULLET_LABELS).to_owned()
            };
            let point = self.pick(BULLET_POINTS);
            let point = self.fill(point);
            out.push_str(&format!("- **{keyword}**：{point}\n"));
        }
        out.push('\n');
        out
    }

    fn steps(&mut self, section: usize) -> String {
        let mut out = String::new();
        let bank = STEP_BANKS[section % STEP_BANKS.len()];
        for (i, step) in bank.iter().enumerate() {
            let step = self.fill(step);
            out.push_str(&format!("{}. {step}\n", i + 1));
        }
        out.push('\n');
        out
    }

    fn quote(&mut self) -> String {
        let quote = self.pick(QUOTES);
        let quote = self.fill(quote);
        format!("> {quote}\n\n")
    }
}

/// A tiny deterministic generator (SplitMix64): the same seed, the same
/// article, on every machine and Rust version.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const CHINESE_NUMBERS: [&str; 10] = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十"];

const GENERAL_HEADINGS: &[&str] = &[
    "{t}是什么",
    "为什么{k}值得关注",
    "具体可以怎么做",
    "容易踩的坑",
    "几个真实的例子",
    "给新手的建议",
    "常见问题",
];
const WECHAT_HEADINGS: &[&str] = &[
    "为什么大家都在聊{t}",
    "{k}：被低估的关键",
    "三个马上能用的小建议",
    "别再这样做了",
];
const BLOG_HEADINGS: &[&str] = &["背景", "{k}到底是什么", "我的做法", "踩过的坑", "小结"];
const PRODUCT_HEADINGS: &[&str] = &[
    "产品概览",
    "核心功能",
    "{k}如何帮到你",
    "适合谁使用",
    "常见问题",
];
const PRESS_HEADINGS: &[&str] = &["事件概要", "各方声音", "背景信息", "下一步计划"];
const READING_HEADINGS: &[&str] = &[
    "这本书讲了什么",
    "印象最深的几个观点",
    "{k}给我的启发",
    "值得商榷的地方",
];

const GENERAL_SENTENCES: &[&str] = &[
    "说到{t}，很多人的第一反应是“离自己很远”，其实它就藏在日常的细节里。",
    "{k}并不是一个新鲜的概念，但真正把它用好的人并不多。",
    "如果只用一句话概括，那就是：先把{k}想清楚，再动手去做。",
    "从实际经验来看，最容易被忽视的，恰恰是{k}。",
    "不妨先从一个小问题开始：我们为什么需要关注{t}？",
    "很多改变都是渐进的，{k}带来的影响往往要过一段时间才看得出来。",
    "对于刚接触这个话题的读者来说，最重要的是先建立一个整体印象。",
    "换个角度看，{k}也意味着新的机会。",
    "当然，任何方法都有边界，{t}也不例外。",
    "把这些要点串起来，就能看到{t}的全貌。",
    "与其追求一步到位，不如先把{k}做扎实。",
    "有人问过我一个问题：{k}和{k}之间到底是什么关系？",
    "答案其实并不复杂，关键在于找到适合自己的节奏。",
    "细节决定成败，这句话放在{t}上同样适用。",
    "我们整理了一些常见的做法，供你参考。",
    "每个人的情况不同，照搬别人的经验未必奏效。",
];
const WECHAT_SENTENCES: &[&str] = &[
    "说实话，第一次认真了解{k}的时候，我也有点意外。",
    "如果你也正为{t}发愁，这篇文章可能会帮到你。",
    "先收藏，慢慢看，后面还有干货。",
    "评论区里常有朋友问起{k}，今天就一次说清楚。",
    "别担心，这件事没有想象中那么难。",
    "身边不少朋友试过之后，都说“早知道就好了”。",
    "划重点：{k}这件事，越早开始越好。",
    "你可能会问，这和我有什么关系？关系还真不小。",
    "讲个小故事：一位读者照着做了一个月，变化肉眼可见。",
    "看到这里，不妨停下来想一想自己的情况。",
    "很多人在{k}上花了不少冤枉钱，其实大可不必。",
    "如果觉得有用，记得转发给需要的朋友。",
];
const PRODUCT_SENTENCES: &[&str] = &[
    "在设计之初，我们就把{k}放在了第一位。",
    "它的操作很简单，第一次使用也能很快上手。",
    "经过多轮测试，{k}的表现比上一代有了明显提升。",
    "我们收集了大量用户反馈，并据此改进了细节。",
    "无论是日常使用还是特殊场景，它都能稳定发挥。",
    "价格方面，我们希望让更多人用得起{t}。",
    "每一个细节，都经过了反复推敲。",
    "我们相信，好的产品应该让人用得安心。",
    "与同类产品相比，它在{k}上更进了一步。",
    "售后方面，我们提供完善的支持和保障。",
];
const PRESS_SENTENCES: &[&str] = &[
    "据介绍，此次发布的内容主要围绕{k}展开。",
    "相关负责人表示，{k}是下一阶段工作的重点。",
    "业内人士认为，这一举措将对{t}产生积极影响。",
    "据悉，相关工作已于本月启动，并将分阶段推进。",
    "多位与会专家就{k}的发展前景进行了交流。",
    "记者从有关方面了解到，后续还将公布更多细节。",
    "数据显示，近年来与{k}相关的需求持续增长。",
    "此次活动吸引了来自各界的广泛关注。",
    "有关方面表示，将继续听取各方意见，不断完善相关工作。",
];
const READING_SENTENCES: &[&str] = &[
    "作者用很朴素的语言，讲清楚了{k}背后的道理。",
    "读到这一章时，我停下来想了很久。",
    "书中有一个观点让我印象很深：{k}不是目的，而是过程。",
    "这让我联想到自己在生活中遇到的类似情形。",
    "有些论述放在今天看仍然很有启发。",
    "如果只能推荐书里的一段话，我会选关于{k}的那一段。",
    "书不厚，却值得慢慢读。",
    "作者并不急于下结论，而是把思考的过程摊开给读者看。",
    "合上书再回想，{k}这个词有了新的分量。",
];
const BULLET_POINTS: &[&str] = &[
    "先弄清楚它解决什么问题，再决定要不要用。",
    "从小处着手，每天进步一点点。",
    "定期回顾，及时调整方向。",
    "多听听身边人的意见，往往能少走弯路。",
    "记录下每一次尝试，效果一目了然。",
    "别贪多，把一件事做透比什么都重要。",
];
const BULLET_LABELS: &[&str] = &[
    "先想清楚",
    "从小处做起",
    "及时复盘",
    "留出余地",
    "多问一句",
    "记录下来",
];
const STEP_BANKS: &[&[&str]] = &[
    &[
        "明确目标：想清楚这次要解决的是什么。",
        "收集信息：了解{k}的基本情况和常见做法。",
        "动手尝试：先做一个最小的版本。",
    ],
    &[
        "列一张清单，把和{k}有关的事项都写下来。",
        "按轻重缓急排个序，先做最重要的那一件。",
        "一周后回头看看，哪些有效、哪些需要调整。",
    ],
    &[
        "先花十分钟读一读关于{k}的基础介绍。",
        "找一位有经验的朋友聊一聊。",
        "选一个周末，实际体验一次。",
    ],
];
const QUOTES: &[&str] = &[
    "真正重要的不是知道{k}，而是去做。",
    "慢慢来，比较快。",
    "把简单的事情做好，就是不简单。",
    "关于{t}，最好的开始时间是过去，其次是现在。",
];
const OUTLINE_POINTS: &[&str] = &[
    "用一个身边的例子引出{k}",
    "解释{k}的含义和来龙去脉",
    "列出三个常见误区",
    "给出可以马上照做的步骤",
    "引用一组数据或一段经历",
    "小结本节要点，过渡到下一节",
];
const CLOSINGS: &[&str] = &[
    "关于{t}，今天就先聊到这里。希望这些内容对你有所启发。",
    "写到最后，想说的其实只有一句：从今天开始，试着关注一下{k}。",
    "如果你有不同的看法，欢迎留言交流，我们下次再聊。",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn brief(user: &str) -> Brief {
        Brief::read("", user)
    }

    #[test]
    fn the_article_follows_the_brief() {
        let b = brief("标题：春天喝什么茶\n类型：公众号推文\n字数：1500\n关键词：绿茶、冲泡");
        let written = write(&b, 7, false);
        let text = &written.content;
        assert!(text.starts_with("# 春天喝什么茶\n\n"), "{text}");
        assert!(text.contains("\n## "), "headings");
        assert!(text.contains("\n- **") || text.contains("\n1. ") || text.contains("\n> "));
        assert!(text.contains("绿茶") && text.contains("冲泡"));
        assert!(text.contains("## 结语"));
        let chars = visible_chars(text);
        assert!((1200..=2200).contains(&chars), "{chars} 字");
        assert!(written.reasoning.contains("公众号推文") && written.reasoning.contains("1500"));
    }

    #[test]
    fn length_scales_with_the_request() {
        let short = visible_chars(&write(&brief("标题：猫\n字数：600"), 1, false).content);
        let long = visible_chars(&write(&brief("标题：猫\n字数：3000"), 1, false).content);
        assert!((450..=1000).contains(&short), "{short}");
        assert!((2500..=4000).contains(&long), "{long}");
    }

    #[test]
    fn the_same_prompt_gives_the_same_text_and_another_seed_another() {
        let b = brief("标题：远程办公\n类型：博客");
        assert_eq!(write(&b, 42, false), write(&b, 42, false));
        assert_ne!(write(&b, 42, false).content, write(&b, 43, false).content);
    }

    #[test]
    fn an_outline_when_asked() {
        let written = write(&brief("主题：远程办公\n请给出文章大纲"), 3, false);
        let text = written.content;
        assert!(text.starts_with("# 远程办公\n\n## 一、"), "{text}");
        assert!(text.contains("\n- "));
        assert!(!text.contains("结语"));
        assert!(visible_chars(&text) < 600);
    }

    #[test]
    fn given_headings_are_followed_and_sections_written_alone() {
        let text = write(&brief("标题：远程办公\n## 一、工具\n## 二、节奏"), 3, false).content;
        let headings: Vec<_> = text.lines().filter(|l| l.starts_with("## ")).collect();
        assert_eq!(headings, ["## 工具", "## 节奏", "## 结语"]);
        let alone = write(&brief("标题：远程办公\n只写这一节：\n## 工具"), 3, false).content;
        assert!(alone.starts_with("## 工具\n\n"), "{alone}");
        assert!(!alone.contains("# 远程办公") && !alone.contains("结语"));
    }

    #[test]
    fn json_output_is_json() {
        let text = write(&brief("标题：猫\n关键词：橘猫"), 1, true).content;
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["title"], "猫");
        assert_eq!(value["keywords"][0], "橘猫");
        assert!(value["sections"].as_array().unwrap().len() >= 3);
    }

    #[test]
    fn every_kind_writes_its_own_way() {
        for (kind, word) in [
            ("新闻稿", "近日"),
            ("读书笔记", "书"),
            ("产品介绍", "产品"),
            ("博客", "这篇文章"),
        ] {
            let text = write(&brief(&format!("标题：测试\n类型：{kind}")), 5, false).content;
            assert!(text.contains(word), "{kind}: {text}");
        }
    }
}
