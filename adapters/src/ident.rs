//! Identifier checks: USCC (GB 32100-2015), phone numbers, division codes.

/// The 31 characters a USCC may use, in value order (no I, O, S, V, Z).
const USCC_CHARS: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weights of positions 1..=17: 3^i mod 31.
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Checks a unified social credit code: 18 characters of the GB 32100-2015
/// set, the last being the check character of the first 17.
pub fn check_uscc(code: &str) -> Result<(), String> {
    // An ASCII code of the right length (every valid one) is checked on
    // its bytes, one per character, without collecting them.
    let mut ascii = ['\0'; 18];
    let collected: Vec<char>;
    let chars: &[char] = if code.len() == ascii.len() && code.is_ascii() {
        for (c, b) in ascii.iter_mut().zip(code.bytes()) {
            *c = char::from(b);
        }
        &ascii
    } else {
        collected = code.chars().collect();
        &collected
    };
    if chars.len() != 18 {
        return Err(format!("must be 18 characters, got {}", chars.len()));
    }
    let mut sum = 0u32;
    for (i, c) in chars.iter().enumerate() {
        let Some(value) = USCC_CHARS.iter().position(|&b| char::from(b) == *c) else {
            return Err(format!(
                "character {} is '{c}', not one of 0-9 A-H J-N P-R T U W-Y",
                i + 1
            ));
        };
        if i < 17 {
            sum += USCC_WEIGHTS[i] * value as u32;
        }
    }
    if !chars[2..8].iter().all(char::is_ascii_digit) {
        return Err(
            "characters 3 to 8 must be the 6-digit division code of the registering authority"
                .into(),
        );
    }
    let expected = char::from(USCC_CHARS[((31 - sum % 31) % 31) as usize]);
    if chars[17] != expected {
        return Err(format!(
            "check character is '{}', expected '{expected}'",
            chars[17]
        ));
    }
    Ok(())
}

/// Checks a mainland mobile number (11 digits, starting with 1) or a fixed
/// line (`0` area code of 3 or 4 digits, hyphen, 7 or 8 digits).
pub fn check_phone(phone: &str) -> Result<(), String> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let ok = match phone.split_once('-') {
        None => phone.len() == 11 && phone.starts_with('1') && digits(phone),
        Some((area, number)) => {
            (3..=4).contains(&area.len())
                && area.starts_with('0')
                && digits(area)
                && (7..=8).contains(&number.len())
                && digits(number)
        }
    };
    if ok {
        Ok(())
    } else {
        Err("must be an 11-digit mobile number starting with 1, or a fixed line such as 010-65123456".into())
    }
}

/// Checks a 6-digit administrative division code.
pub fn check_division(code: &str) -> Result<(), String> {
    if schemas::is_division(code) {
        Ok(())
    } else {
        Err(format!("'{code}' is not a 6-digit division code"))
    }
}

/// Checks a hex SHA-256 digest (64 hexadecimal digits).
pub fn check_sha256(digest: &str) -> Result<(), String> {
    if digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err("must be 64 hexadecimal digits (SHA-256)".into())
    }
}

/// Masks a phone number for logs: `138****8000`, `010-****3456`.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 7 {
        return "*".repeat(chars.len());
    }
    let keep_head = if let Some(pos) = chars.iter().position(|&c| c == '-') {
        pos + 1
    } else {
        3
    };
    let keep_tail = 4;
    let stars = chars.len().saturating_sub(keep_head + keep_tail);
    let mut out: String = chars[..keep_head.min(chars.len())].iter().collect();
    out.push_str(&"*".repeat(stars));
    out.extend(&chars[chars.len() - keep_tail.min(chars.len() - keep_head.min(chars.len()))..]);
    out
}

/// Masks a person's name for logs: the first character and a star per
/// remaining character (`张*`, `欧**`).
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => {
            let mut out = String::from(first);
            out.extend(chars.map(|_| '*'));
            if out.chars().count() == 1 {
                out.push('*');
            }
            out
        }
        None => String::new(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn uscc_check_characters_of_the_samples() {
        for ok in ["91110108MA01RK7H3A", "91110105MA01N3UQ53"] {
            assert_eq!(check_uscc(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            check_uscc("91110108MA01RK7H3X"),
            Err("check character is 'X', expected 'A'".into())
        );
        assert!(
            check_uscc("91110108MA01RK7H3")
                .unwrap_err()
                .contains("18 characters")
        );
        assert!(
            check_uscc("91110108MA01RK7HIA")
                .unwrap_err()
                .contains("character 17 is 'I'")
        );
    }

    #[test]
    fn phones() {
        for ok in ["13800138000", "010-65123456", "0316-1234567"] {
            assert_eq!(check_phone(ok), Ok(()), "{ok}");
        }
        for bad in [
            "23800138000",
            "1380013800",
            "10-65123456",
            "010-123456",
            "010-123456789",
            "0101-65a23456",
            "",
        ] {
            assert!(check_phone(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn masks_keep_no_more_than_they_must() {
        assert_eq!(mask_phone("13800138000"), "138****8000");
        assert_eq!(mask_phone("010-65123456"), "010-****3456");
        assert_eq!(mask_phone("123"), "***");
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
        assert_eq!(mask_name("王"), "王*");
    }
}
