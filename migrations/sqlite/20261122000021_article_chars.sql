-- An article's length in characters, kept with its text: the list of a
-- writer's articles shows it, and counting it there (`length(body)`) read
-- every article's whole text for each view of the list.
ALTER TABLE article_versions ADD COLUMN body_chars INTEGER NOT NULL DEFAULT 0;
UPDATE article_versions SET body_chars = length(body);
