//! Parsing of user-supplied values into checked domain values. Each parser
//! returns the cleaned value or a message that says what is wrong, so the
//! server and a phone client reject the same input with the same words.

/// A region code: 1–32 of letters, digits, `-`, `_`.
pub fn region_code(raw: &str) -> Result<String, String> {
    code(raw, 32, false)
}

/// A store code: 1–64 of letters, digits, `-`, `_`, `.`.
pub fn store_code(raw: &str) -> Result<String, String> {
    code(raw, 64, true)
}

/// A dimension code: 1–32 of letters, digits, `-`, `_`.
pub fn dimension_code(raw: &str) -> Result<String, String> {
    code(raw, 32, false)
}

/// A standard code: 1–64 of letters, digits, `-`, `_`, `.`.
pub fn standard_code(raw: &str) -> Result<String, String> {
    code(raw, 64, true)
}

fn code(raw: &str, max: usize, dot: bool) -> Result<String, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    let ok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || (dot && c == '.');
    if !s.chars().all(ok) {
        let allowed = if dot {
            "letters, digits, '-', '_' and '.'"
        } else {
            "letters, digits, '-' and '_'"
        };
        return Err(format!("may contain only {allowed}"));
    }
    Ok(s.to_owned())
}

/// A display name or address: trimmed, 1..=max characters, no control characters.
pub fn text(raw: &str, max: usize) -> Result<String, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if s.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(s.to_owned())
}

/// Optional guidance text: empty, or text of at most `max` characters.
pub fn optional_text(raw: &str, max: usize) -> Result<String, String> {
    if raw.trim().is_empty() {
        Ok(String::new())
    } else {
        text(raw, max)
    }
}

/// An e-mail address, lower-cased. Deliberately loose: one `@`, something on
/// both sides, a dot in the domain, no spaces.
pub fn email(raw: &str) -> Result<String, String> {
    let s = raw.trim().to_lowercase();
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.len() > 254 {
        return Err("must be at most 254 characters".into());
    }
    let Some((local, domain)) = s.split_once('@') else {
        return Err("must be an e-mail address".into());
    };
    let bad = local.is_empty()
        || domain.is_empty()
        || domain.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || s.chars().any(|c| c.is_whitespace() || c.is_control());
    if bad {
        return Err("must be an e-mail address".into());
    }
    Ok(s)
}

pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 1024;

/// A new password: 8–1024 characters.
pub fn password(raw: &str) -> Result<(), String> {
    let n = raw.chars().count();
    if n < PASSWORD_MIN {
        return Err(format!("must be at least {PASSWORD_MIN} characters"));
    }
    if n > PASSWORD_MAX {
        return Err(format!("must be at most {PASSWORD_MAX} characters"));
    }
    Ok(())
}

pub fn latitude(v: f64) -> Result<f64, String> {
    if v.is_finite() && (-90.0..=90.0).contains(&v) {
        Ok(v)
    } else {
        Err("must be a number from -90 to 90".into())
    }
}

pub fn longitude(v: f64) -> Result<f64, String> {
    if v.is_finite() && (-180.0..=180.0).contains(&v) {
        Ok(v)
    } else {
        Err("must be a number from -180 to 180".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(region_code(" north-1 ").as_deref(), Ok("north-1"));
        assert!(region_code("").is_err());
        assert!(region_code("a b").is_err());
        assert!(region_code("a.b").is_err());
        assert_eq!(store_code("SH.001").as_deref(), Ok("SH.001"));
        assert!(store_code(&"x".repeat(65)).is_err());
        assert!(store_code(&"x".repeat(64)).is_ok());
        assert_eq!(dimension_code(" SQ-1 ").as_deref(), Ok("SQ-1"));
        assert!(dimension_code("a.b").is_err());
        assert!(dimension_code(&"x".repeat(33)).is_err());
        assert_eq!(standard_code("SH.001").as_deref(), Ok("SH.001"));
        assert!(standard_code(&"x".repeat(65)).is_err());
        assert_eq!(optional_text("  ", 3).as_deref(), Ok(""));
        assert!(optional_text("abcd", 3).is_err());
    }

    #[test]
    fn emails() {
        assert_eq!(email(" Ann@Example.COM ").as_deref(), Ok("ann@example.com"));
        for bad in [
            "",
            "ann",
            "ann@",
            "@x.com",
            "ann@x",
            "a@b@c.com",
            "a b@c.com",
            "a@.com",
            "a@c.",
        ] {
            assert!(email(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn passwords_and_coordinates() {
        assert!(password("1234567").is_err());
        assert!(password("12345678").is_ok());
        assert!(password(&"x".repeat(1025)).is_err());
        assert!(latitude(90.0).is_ok());
        assert!(latitude(90.01).is_err());
        assert!(latitude(f64::NAN).is_err());
        assert!(longitude(-180.0).is_ok());
        assert!(longitude(180.5).is_err());
    }

    #[test]
    fn texts() {
        assert_eq!(text("  Shop  ", 10).as_deref(), Ok("Shop"));
        assert!(text("   ", 10).is_err());
        assert!(text("a\u{0}b", 10).is_err());
        assert!(text("abcdefghijk", 10).is_err());
    }
}
