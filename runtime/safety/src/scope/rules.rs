//! The rule file (`data/scope_rules.txt`): parsing it, and evaluating it against a question.
//!
//! All terms of all rules go into one Aho-Corasick automaton, so a question is scanned once whatever
//! the number of rules; a rule is then a few lookups in the set of terms found.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, MatchKind};

use super::terms::{is_han, Term};
use super::{Reason, RulesError};

/// Built-in group: a common surname with a one- or two-character given name, then 的/住/家/有/在.
const NAMED_PERSON: &str = "@_named_person";

/// One alternative in a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Atom {
    Term(usize),
    NamedPerson,
}

type Group = Vec<Atom>;

#[derive(Debug)]
struct Rule {
    positive: Vec<Group>,
    negative: Vec<Group>,
    /// A weak rule (`… & !@service`): broad vocabulary, held only where no service word occurs.
    weak: bool,
}

#[derive(Debug)]
struct Section {
    reason: Reason,
    except: Group,
    rules: Vec<Rule>,
}

/// A parsed rule file.
#[derive(Debug)]
pub(crate) struct Rules {
    matcher: Option<AhoCorasick>,
    terms: Vec<Term>,
    /// Per term: whether its occurrences hide shorter terms inside them.
    shadow: Vec<bool>,
    sections: Vec<Section>,
}

/// Where the parser is.
enum Current {
    Nowhere,
    Shadow,
    Reason(usize),
}

impl Rules {
    pub fn parse(source: &str) -> Result<Rules, RulesError> {
        let mut terms: Vec<Term> = Vec::new();
        let mut term_ids: HashMap<String, usize> = HashMap::new();
        let mut shadow_terms: Vec<usize> = Vec::new();
        // Groups defined before the first section are shared; others belong to their section.
        let mut shared_groups: HashMap<String, Group> = HashMap::new();
        let mut groups: HashMap<String, Group> = HashMap::new();
        let mut sections: Vec<Section> = Vec::new();
        let mut current = Current::Nowhere;

        for (index, raw) in source.lines().enumerate() {
            let line_no = index + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let error = |message: String| RulesError::Syntax {
                line: line_no,
                message,
            };
            let mut parse_group = |written: &str| -> Result<Group, RulesError> {
                let mut group = Group::new();
                for alternative in written.split('|') {
                    let alternative = alternative.trim();
                    if alternative == NAMED_PERSON {
                        group.push(Atom::NamedPerson);
                    } else if let Some(name) = alternative.strip_prefix('@') {
                        let defined = groups
                            .get(name)
                            .or_else(|| shared_groups.get(name))
                            .ok_or_else(|| RulesError::Syntax {
                                line: line_no,
                                message: format!("group `@{name}` is used before it is defined"),
                            })?;
                        group.extend(defined.iter().copied());
                    } else {
                        let term = Term::parse(alternative).ok_or_else(|| RulesError::Syntax {
                            line: line_no,
                            message: "empty term (check for `||` or a trailing `|`)".into(),
                        })?;
                        let id = *term_ids.entry(term.text.clone()).or_insert_with(|| {
                            terms.push(term);
                            terms.len() - 1
                        });
                        group.push(Atom::Term(id));
                    }
                }
                Ok(group)
            };

            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                let name = name.trim();
                groups.clear();
                current = if name == "shadow" {
                    Current::Shadow
                } else {
                    let reason: Reason = name.parse().map_err(|_| RulesError::UnknownSection {
                        line: line_no,
                        name: name.to_string(),
                    })?;
                    sections.push(Section {
                        reason,
                        except: Group::new(),
                        rules: Vec::new(),
                    });
                    Current::Reason(sections.len() - 1)
                };
            } else if let Some((name, body)) =
                line.strip_prefix('@').and_then(|l| l.split_once('='))
            {
                let name = name.trim();
                if name.is_empty() || name.starts_with('_') || name.contains(char::is_whitespace) {
                    return Err(error(format!("bad group name `@{name}`")));
                }
                let group = parse_group(body)?;
                let scope = match current {
                    Current::Nowhere => &mut shared_groups,
                    _ => &mut groups,
                };
                if scope.insert(name.to_string(), group).is_some() {
                    return Err(error(format!("group `@{name}` is defined twice")));
                }
            } else if let Some(body) = line.strip_prefix("except:") {
                let Current::Reason(section) = current else {
                    return Err(error("`except:` outside a reason section".into()));
                };
                let group = parse_group(body)?;
                sections[section].except.extend(group);
            } else {
                match current {
                    Current::Nowhere => return Err(error("rule outside a section".into())),
                    Current::Shadow => {
                        for atom in parse_group(line)? {
                            match atom {
                                Atom::Term(id) => shadow_terms.push(id),
                                Atom::NamedPerson => {
                                    return Err(error(format!("{NAMED_PERSON} cannot shadow")));
                                }
                            }
                        }
                    }
                    Current::Reason(section) => {
                        let mut rule = Rule {
                            positive: Vec::new(),
                            negative: Vec::new(),
                            weak: false,
                        };
                        for part in line.split('&') {
                            let part = part.trim();
                            match part.strip_prefix('!') {
                                Some(negated) => {
                                    rule.weak |= negated.trim() == "@service";
                                    rule.negative.push(parse_group(negated)?)
                                }
                                None => rule.positive.push(parse_group(part)?),
                            }
                        }
                        if rule.positive.is_empty() {
                            return Err(error("a rule needs at least one positive group".into()));
                        }
                        sections[section].rules.push(rule);
                    }
                }
            }
        }

        let mut shadow = vec![false; terms.len()];
        for id in shadow_terms {
            shadow[id] = true;
        }
        let matcher = if terms.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .build(terms.iter().map(|t| t.text.as_str()))?,
            )
        };
        Ok(Rules {
            matcher,
            terms,
            shadow,
            sections,
        })
    }

    /// The first reason (in file order) with a rule that holds for the folded question; with
    /// `strong_only`, weak rules (`… & !@service`) are not tried.
    pub fn first_match(&self, folded: &str, strong_only: bool) -> Option<Reason> {
        let present = self.present(folded);
        let mut named_person: Option<bool> = None;
        let mut holds = |atom: &Atom| match atom {
            Atom::Term(id) => present[*id],
            Atom::NamedPerson => *named_person.get_or_insert_with(|| has_named_person(folded)),
        };
        for section in &self.sections {
            if section.except.iter().any(&mut holds) {
                continue;
            }
            for rule in section.rules.iter().filter(|r| !(strong_only && r.weak)) {
                let positive = rule.positive.iter().all(|g| g.iter().any(&mut holds));
                if positive && !rule.negative.iter().any(|g| g.iter().any(&mut holds)) {
                    return Some(section.reason);
                }
            }
        }
        None
    }

    /// Which terms occur in the folded question (respecting word boundaries and shadows).
    fn present(&self, folded: &str) -> Vec<bool> {
        let mut present = vec![false; self.terms.len()];
        let Some(matcher) = &self.matcher else {
            return present;
        };
        let mut occurrences: Vec<(usize, usize, usize)> = Vec::new();
        for m in matcher.find_overlapping_iter(folded) {
            let id = m.pattern().as_usize();
            if self.terms[id].fits(folded, m.start(), m.end()) {
                occurrences.push((id, m.start(), m.end()));
            }
        }
        let shadows: Vec<(usize, usize)> = occurrences
            .iter()
            .filter(|(id, _, _)| self.shadow[*id])
            .map(|&(_, s, e)| (s, e))
            .collect();
        for &(id, start, end) in &occurrences {
            let hidden = shadows
                .iter()
                .any(|&(s, e)| s <= start && end <= e && end - start < e - s);
            if !hidden {
                present[id] = true;
            }
        }
        present
    }
}

/// Surnames common enough to matter and rare enough as the first character of an ordinary word
/// (万, 任, 周, 许, 程, 范… are left out: 万元的, 任何人的, 周末的, 许可的, 程序的, 范围的).
const SURNAMES: &str = "王李张刘陈杨黄赵吴徐孙朱胡郭何林罗郑梁谢宋唐韩冯邓曹彭肖萧董袁潘蒋蔡杜叶苏魏吕丁沈姚卢姜崔钟谭汪廖贾夏韦邹孟熊秦邱尹薛闫侯陶贺郝龚邵严覃戴莫";

/// Characters that do not occur in a given name here but do end place and institution names
/// (罗湖的, 郑州的, 黄埔的) or ordinary words (孙子的, 何时的).
const NOT_IN_GIVEN_NAME: &str = "的了是在有个们这那么什区市县镇乡村街路局厅所站办院馆处科部委会队厂司行店校园岛湖山江河海州岗埔港门业务件证费险单表时期年月日号码子人家住儿";

/// Whether the folded text names a person in the form 王小明的 / 陈大文住 / 张三家 / 张伟有 /
/// 李建国名下.
fn has_named_person(folded: &str) -> bool {
    let chars: Vec<char> = folded.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !SURNAMES.contains(c) {
            continue;
        }
        for given in 1..=2 {
            let Some(&after) = chars.get(i + 1 + given) else {
                break;
            };
            let name = &chars[i + 1..i + 1 + given];
            if !name
                .iter()
                .all(|&n| is_han(n) && !NOT_IN_GIVEN_NAME.contains(n))
            {
                break;
            }
            let next = chars.get(i + 2 + given).copied();
            if matches!(after, '的' | '住' | '家' | '有' | '在')
                || (after, next) == ('名', Some('下'))
            {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_person_form() {
        for yes in [
            "王小明的手机",
            "陈大文住在哪",
            "张三的身份证",
            "查下李建国名下有几套房",
        ] {
            assert!(has_named_person(yes), "{yes}");
        }
        for no in [
            "罗湖区的电话",
            "孙子的户口",
            "郑州的社保",
            "何时的",
            "税务局的电话",
        ] {
            assert!(!has_named_person(no), "{no}");
        }
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let cases = [
            ("[medical]\n@a = x|y\n@b = @c", 3),
            ("[nonsense]", 1),
            ("x & y", 1),
            ("[gossip]\na||b", 2),
            ("except: a", 1),
        ];
        for (source, line) in cases {
            let error = Rules::parse(source).unwrap_err();
            assert_eq!(error.line(), Some(line), "{source}: {error}");
        }
    }

    #[test]
    fn groups_except_negation_and_shadows() {
        let rules = Rules::parse(
            "[shadow]\n怎么办理\n[medical]\nexcept: 报销\n@sym = 头疼|发烧\n@sym & 怎么办 & !医生说\n",
        )
        .unwrap();
        assert_eq!(
            rules.first_match("头疼怎么办", false),
            Some(Reason::Medical)
        );
        assert_eq!(
            rules.first_match("頭疼怎麼辦", false),
            None,
            "rules see folded text only"
        );
        assert_eq!(rules.first_match("头疼怎么办理报销", false), None);
        assert_eq!(rules.first_match("头疼怎么办理", false), None);
        assert_eq!(rules.first_match("医生说头疼怎么办", false), None);
    }
}
