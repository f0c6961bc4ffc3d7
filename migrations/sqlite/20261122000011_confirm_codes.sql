-- Confirm mode: the short code the browser shows and the WeChat user
-- replies (确认 1234), chosen when the attempt is scanned so that it is
-- unique among the attempts waiting for that WeChat user's confirmation.
ALTER TABLE login_attempts ADD COLUMN confirm_code TEXT;
