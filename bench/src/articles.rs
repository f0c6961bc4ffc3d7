//! The logged-in visitor's articles, for the `/articles` page's load: 50
//! finished articles of a realistic length, written straight into the
//! server's database (the page only reads them; generating 50 through
//! DeepSeek's stand-in would measure the writing phase again).

use std::path::Path;

use crate::callbacks;

/// How many articles the logged-in visitor has in the page runs.
pub const ARTICLES: usize = 50;

/// About 1 500 characters of Markdown, as a short 公众号 article.
fn body(n: usize) -> String {
    let mut text = format!("# 负载测试文章 {n}\n\n");
    for section in 1..=5 {
        text.push_str(&format!("## 第 {section} 部分\n\n"));
        for _ in 0..3 {
            text.push_str(
                "写作之前先想清楚读者是谁，他们关心什么，读完之后能带走什么。\
                 好的开头用一个具体的场景抓住注意力，中间用例子把道理讲透，\
                 结尾留下一个可以马上去做的小行动。\n\n",
            );
        }
    }
    text
}

/// Gives the user of the newest session `ARTICLES` finished articles.
pub async fn seed(db_path: &Path) -> Result<(), String> {
    let db = callbacks::open_db(db_path).await?;
    let result = async {
        let (user,): (i64,) =
            sqlx::query_as("SELECT user_id FROM sessions ORDER BY created_at DESC LIMIT 1")
                .fetch_one(&db)
                .await
                .map_err(|e| format!("no session to give articles to: {e}"))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_millis() as i64;
        let mut tx = db.begin().await.map_err(|e| e.to_string())?;
        for n in 0..ARTICLES {
            let id = format!("{:016x}{:016x}", 0x10ad_7e57_u64, n as u64);
            let at = now - (ARTICLES - n) as i64 * 60_000;
            let title = format!("负载测试文章 {n}");
            let brief = format!(
                r#"{{"topic":"{title}","kind":"公众号推文","tone":"","length":"medium","keywords":[],"notes":"","outline":null,"thinking":false}}"#
            );
            let body = body(n);
            sqlx::query(
                "INSERT INTO articles (id, user_id, title, kind, brief, latest, created_at, updated_at)
                 VALUES (?, ?, ?, '公众号推文', ?, 1, ?, ?)",
            )
            .bind(&id)
            .bind(user)
            .bind(&title)
            .bind(&brief)
            .bind(at)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(|e| format!("cannot add an article: {e}"))?;
            sqlx::query(
                "INSERT INTO article_versions (article_id, number, status, body, body_bytes, created_at, updated_at)
                 VALUES (?, 1, 'done', ?, ?, ?, ?)",
            )
            .bind(&id)
            .bind(&body)
            .bind(body.len() as i64)
            .bind(at)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(|e| format!("cannot add an article's text: {e}"))?;
        }
        // A server that keeps the length with the text (`body_chars`) gets
        // it; an older one has no such column.
        let _ = sqlx::query("UPDATE article_versions SET body_chars = length(body)")
            .execute(&mut *tx)
            .await;
        tx.commit().await.map_err(|e| e.to_string())
    }
    .await;
    db.close().await;
    result
}
