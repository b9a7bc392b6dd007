//! The data tables: category catalogue, hotline registry, compound registry.
//!
//! They are CSV files read at start-up (an operator edits them without a
//! rebuild); loading checks them whole and names the file, line and column of
//! the first problem.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::Error;
use crate::ticket::OwnerKind;

/// A partner code scheme: one `*_code` column of `categories.csv`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// `bj_code`, Beijing 12345.
    Bj,
    /// `tj_code`, Tianjin 12345.
    Tj,
    /// `hb_code`, the Hebei hotlines.
    Hb,
    /// `ent_code`, the enterprise hotline.
    Ent,
    /// `open311_code`, Open311 `service_code`.
    Open311,
}

impl Scheme {
    /// Every scheme, in column order.
    pub const ALL: [Scheme; 5] = [
        Scheme::Bj,
        Scheme::Tj,
        Scheme::Hb,
        Scheme::Ent,
        Scheme::Open311,
    ];

    /// The short name used in [`crate::SourceCode::scheme`].
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Bj => "bj",
            Scheme::Tj => "tj",
            Scheme::Hb => "hb",
            Scheme::Ent => "ent",
            Scheme::Open311 => "open311",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One row of the category catalogue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CategoryEntry {
    /// Dotted catalogue code, e.g. `housing.repair.wall`.
    pub code: String,
    /// The parent's code; `None` at the top level.
    pub parent: Option<String>,
    /// Chinese label.
    pub label_zh: String,
    /// English label.
    pub label_en: String,
    codes: [Option<String>; 5],
}

impl CategoryEntry {
    /// This category's code in a partner scheme, if it has one.
    pub fn partner_code(&self, scheme: Scheme) -> Option<&str> {
        self.codes[scheme.index()].as_deref()
    }
}

/// The result of mapping a catalogue code to a partner scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MappedCategory<'a> {
    /// The partner's code.
    pub code: &'a str,
    /// The catalogue entry the code belongs to (the category itself, an
    /// ancestor, or `other`).
    pub entry: &'a CategoryEntry,
    /// True when `entry` is the category asked for (no fallback).
    pub exact: bool,
}

/// The shared category catalogue with every partner's codes.
#[derive(Clone, Debug)]
pub struct Categories {
    entries: Vec<CategoryEntry>,
    by_code: HashMap<String, usize>,
    by_partner_code: HashMap<(Scheme, String), usize>,
}

/// The catalogue code every scheme maps unknown things to.
pub const OTHER: &str = "other";

impl Categories {
    /// Parses `categories.csv`.
    pub fn from_csv(file: &str, text: &str) -> Result<Categories, Error> {
        #[derive(Deserialize)]
        struct Row {
            code: String,
            parent: String,
            label_zh: String,
            label_en: String,
            bj_code: String,
            tj_code: String,
            hb_code: String,
            ent_code: String,
            open311_code: String,
        }
        let rows: Vec<(u64, Row)> = read_rows(file, text)?;
        let mut entries = Vec::with_capacity(rows.len());
        let mut by_code = HashMap::new();
        let mut by_partner_code = HashMap::new();
        for (line, row) in rows {
            let bad = |field: &str, reason: String| Error::Invalid {
                file: file.to_owned(),
                line,
                field: field.to_owned(),
                reason,
            };
            if row.code.is_empty() {
                return Err(bad("code", "is empty".into()));
            }
            let idx = entries.len();
            if by_code.insert(row.code.clone(), idx).is_some() {
                return Err(bad("code", format!("'{}' appears twice", row.code)));
            }
            let codes = [
                row.bj_code,
                row.tj_code,
                row.hb_code,
                row.ent_code,
                row.open311_code,
            ]
            .map(|c| Some(c).filter(|c| !c.is_empty()));
            for scheme in Scheme::ALL {
                if let Some(c) = &codes[scheme.index()]
                    && by_partner_code.insert((scheme, c.clone()), idx).is_some()
                {
                    return Err(bad(
                        &format!("{}_code", scheme.as_str()),
                        format!("'{c}' appears twice"),
                    ));
                }
            }
            entries.push(CategoryEntry {
                code: row.code,
                parent: Some(row.parent).filter(|p| !p.is_empty()),
                label_zh: row.label_zh,
                label_en: row.label_en,
                codes,
            });
        }
        for (i, e) in entries.iter().enumerate() {
            if let Some(p) = &e.parent
                && !by_code.contains_key(p)
            {
                return Err(Error::Invalid {
                    file: file.to_owned(),
                    line: i as u64 + 2,
                    field: "parent".into(),
                    reason: format!("'{p}' is not a category code in this file"),
                });
            }
        }
        let Some(&other) = by_code.get(OTHER) else {
            return Err(Error::Invalid {
                file: file.to_owned(),
                line: 1,
                field: "code".into(),
                reason: format!("the catalogue needs an '{OTHER}' row"),
            });
        };
        if let Some(s) = Scheme::ALL
            .into_iter()
            .find(|s| entries[other].partner_code(*s).is_none())
        {
            return Err(Error::Invalid {
                file: file.to_owned(),
                line: other as u64 + 2,
                field: format!("{}_code", s.as_str()),
                reason: format!("the '{OTHER}' row needs a code in every scheme"),
            });
        }
        Ok(Categories {
            entries,
            by_code,
            by_partner_code,
        })
    }

    /// Every entry, in file order.
    pub fn entries(&self) -> &[CategoryEntry] {
        &self.entries
    }

    /// The entry for a catalogue code.
    pub fn get(&self, code: &str) -> Option<&CategoryEntry> {
        self.by_code.get(code).map(|&i| &self.entries[i])
    }

    /// The `other` entry (always present: loading checks it).
    pub fn other(&self) -> &CategoryEntry {
        &self.entries[self.by_code[OTHER]]
    }

    /// The catalogue entry a partner code belongs to.
    pub fn from_partner(&self, scheme: Scheme, code: &str) -> Option<&CategoryEntry> {
        self.by_partner_code
            .get(&(scheme, code.to_owned()))
            .map(|&i| &self.entries[i])
    }

    /// A catalogue code in a partner scheme: the category's own code, else
    /// the nearest ancestor's, else `other`'s. An unknown catalogue code maps
    /// to `other`.
    pub fn to_partner(&self, scheme: Scheme, code: &str) -> MappedCategory<'_> {
        let mut current = self.get(code);
        let mut exact = true;
        while let Some(entry) = current {
            if let Some(c) = entry.partner_code(scheme) {
                return MappedCategory {
                    code: c,
                    entry,
                    exact,
                };
            }
            exact = false;
            current = entry.parent.as_deref().and_then(|p| self.get(p));
        }
        let other = self.other();
        MappedCategory {
            // ok: loading checked that `other` has a code in every scheme
            code: other.partner_code(scheme).unwrap_or_default(),
            entry: other,
            exact: code == OTHER,
        }
    }
}

/// One city hotline of the region.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Hotline {
    /// 6-digit division code.
    pub division_code: String,
    /// Partner id (`bj12345`, `hb-131000`...).
    pub partner_id: String,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
    /// Format family the hotline speaks.
    pub format: String,
}

/// The registry of the 17 city hotlines.
#[derive(Clone, Debug)]
pub struct Hotlines {
    rows: Vec<Hotline>,
    by_division: HashMap<String, usize>,
    by_partner: HashMap<String, usize>,
}

impl Hotlines {
    /// Parses `hotlines.csv`.
    pub fn from_csv(file: &str, text: &str) -> Result<Hotlines, Error> {
        let rows: Vec<(u64, Hotline)> = read_rows(file, text)?;
        let mut by_division = HashMap::new();
        let mut by_partner = HashMap::new();
        for (i, (line, h)) in rows.iter().enumerate() {
            let bad = |field: &str, reason: String| Error::Invalid {
                file: file.to_owned(),
                line: *line,
                field: field.to_owned(),
                reason,
            };
            if !is_division(&h.division_code) {
                return Err(bad(
                    "division_code",
                    format!("'{}' is not a 6-digit code", h.division_code),
                ));
            }
            if by_division.insert(h.division_code.clone(), i).is_some() {
                return Err(bad("division_code", "appears twice".into()));
            }
            if by_partner.insert(h.partner_id.clone(), i).is_some() {
                return Err(bad("partner_id", "appears twice".into()));
            }
        }
        Ok(Hotlines {
            rows: rows.into_iter().map(|(_, h)| h).collect(),
            by_division,
            by_partner,
        })
    }

    /// Every hotline, in file order.
    pub fn all(&self) -> &[Hotline] {
        &self.rows
    }

    /// The hotline a division code resolves to: an exact match first, then
    /// the prefecture (`130102` → `130100`), then the province (`120101` →
    /// `120000`).
    pub fn resolve(&self, division: &str) -> Option<&Hotline> {
        if !is_division(division) {
            return None;
        }
        let prefecture = format!("{}00", &division[..4]);
        let province = format!("{}0000", &division[..2]);
        [division, &prefecture, &province]
            .into_iter()
            .find_map(|d| self.by_division.get(d))
            .map(|&i| &self.rows[i])
    }

    /// The hotline with this partner id.
    pub fn by_partner(&self, partner_id: &str) -> Option<&Hotline> {
        self.by_partner.get(partner_id).map(|&i| &self.rows[i])
    }

    /// The hotline registered under exactly this division code.
    pub fn by_division(&self, division: &str) -> Option<&Hotline> {
        self.by_division.get(division).map(|&i| &self.rows[i])
    }
}

/// One registered central-government or military compound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compound {
    /// Compound name.
    pub name: String,
    /// Substrings of an address that identify the compound.
    pub address_keywords: Vec<String>,
    /// 6-digit division code.
    pub division: String,
    /// The owning property unit's partner id.
    pub unit_id: String,
    /// Central or military.
    pub owner_kind: OwnerKind,
    /// The unit's name.
    pub unit_name: String,
}

/// The compound registry: which property unit owns which compound.
#[derive(Clone, Debug)]
pub struct Compounds {
    rows: Vec<Compound>,
}

impl Compounds {
    /// Parses `compounds.csv`.
    pub fn from_csv(file: &str, text: &str) -> Result<Compounds, Error> {
        #[derive(Deserialize)]
        struct Row {
            compound: String,
            address_keywords: String,
            division: String,
            unit_id: String,
            owner_kind: String,
            unit_name: String,
        }
        let rows: Vec<(u64, Row)> = read_rows(file, text)?;
        let mut out = Vec::with_capacity(rows.len());
        for (line, r) in rows {
            let bad = |field: &str, reason: String| Error::Invalid {
                file: file.to_owned(),
                line,
                field: field.to_owned(),
                reason,
            };
            let owner_kind = match r.owner_kind.as_str() {
                "central" => OwnerKind::Central,
                "military" => OwnerKind::Military,
                other => {
                    return Err(bad(
                        "owner_kind",
                        format!("'{other}' is not central or military"),
                    ));
                }
            };
            if !is_division(&r.division) {
                return Err(bad(
                    "division",
                    format!("'{}' is not a 6-digit code", r.division),
                ));
            }
            if !r.unit_id.starts_with("pu-") {
                return Err(bad("unit_id", "must start with 'pu-'".into()));
            }
            if r.compound.is_empty() {
                return Err(bad("compound", "is empty".into()));
            }
            out.push(Compound {
                name: r.compound,
                address_keywords: r
                    .address_keywords
                    .split('|')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(str::to_owned)
                    .collect(),
                division: r.division,
                unit_id: r.unit_id,
                owner_kind,
                unit_name: r.unit_name,
            });
        }
        Ok(Compounds { rows: out })
    }

    /// Every compound, in file order.
    pub fn all(&self) -> &[Compound] {
        &self.rows
    }

    /// The registered compound a ticket is about: first by community name,
    /// then by an address keyword. A division, when the ticket gives one,
    /// must agree with the compound's.
    pub fn find(
        &self,
        community: Option<&str>,
        address: Option<&str>,
        division: Option<&str>,
    ) -> Option<&Compound> {
        let division_agrees = |c: &&Compound| division.is_none_or(|d| d == c.division);
        let by_name = community.and_then(|name| {
            let name = name.trim();
            self.rows
                .iter()
                .filter(division_agrees)
                .find(|c| c.name == name)
        });
        by_name.or_else(|| {
            let address = address?;
            self.rows.iter().filter(division_agrees).find(|c| {
                c.address_keywords
                    .iter()
                    .any(|k| address.contains(k.as_str()))
                    || address.contains(c.name.as_str())
            })
        })
    }

    /// Every compound of one property unit.
    pub fn of_unit<'a>(&'a self, unit_id: &'a str) -> impl Iterator<Item = &'a Compound> + 'a {
        self.rows.iter().filter(move |c| c.unit_id == unit_id)
    }
}

/// All three tables, as the adapters and the router use them.
#[derive(Clone, Debug)]
pub struct Tables {
    /// The category catalogue.
    pub categories: Categories,
    /// The hotline registry.
    pub hotlines: Hotlines,
    /// The compound registry.
    pub compounds: Compounds,
}

/// File names of the tables inside a data directory.
pub const TABLE_FILES: [&str; 3] = ["categories.csv", "hotlines.csv", "compounds.csv"];

impl Tables {
    /// Loads `categories.csv`, `hotlines.csv` and `compounds.csv` from `dir`.
    pub fn load(dir: &Path) -> Result<Tables, Error> {
        let read = |name: &str| -> Result<(String, String), Error> {
            let path: PathBuf = dir.join(name);
            let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            Ok((path.display().to_string(), text))
        };
        let (cf, ct) = read(TABLE_FILES[0])?;
        let (hf, ht) = read(TABLE_FILES[1])?;
        let (pf, pt) = read(TABLE_FILES[2])?;
        Ok(Tables {
            categories: Categories::from_csv(&cf, &ct)?,
            hotlines: Hotlines::from_csv(&hf, &ht)?,
            compounds: Compounds::from_csv(&pf, &pt)?,
        })
    }
}

/// True for a 6-digit administrative division code.
pub fn is_division(s: &str) -> bool {
    s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit())
}

fn read_rows<T: serde::de::DeserializeOwned>(
    file: &str,
    text: &str,
) -> Result<Vec<(u64, T)>, Error> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    for record in reader.deserialize::<T>() {
        match record {
            Ok(row) => {
                let line = out.len() as u64 + 2;
                out.push((line, row));
            }
            Err(e) => {
                return Err(Error::Csv {
                    file: file.to_owned(),
                    line: e.position().map_or(0, |p| p.line()),
                    detail: e.to_string(),
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "tables_tests.rs"]
mod tests;
