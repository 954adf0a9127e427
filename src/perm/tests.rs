//! Unit tests of the engine and a property test against a deliberately naive reference.

use std::collections::HashSet;

use super::*;

fn grants(model: &[&str], objects: &[(&str, &str)]) -> Grants {
    Grants {
        is_active: true,
        is_superuser: false,
        model_perms: model.iter().map(|s| s.to_string()).collect(),
        object_models: objects
            .iter()
            .map(|(m, v)| (m.to_string(), v.to_string()))
            .collect(),
        groups: HashSet::new(),
    }
}

fn set(codenames: &[&str]) -> HashSet<String> {
    codenames.iter().map(|s| s.to_string()).collect()
}

#[test]
fn jane_can_edit_blog_posts_but_nothing_else() {
    let jane = grants(&["view_posts", "change_posts"], &[]);
    let none = HashSet::new();
    assert!(decide(&jane, &Action::Change, "posts", &none).is_allowed());
    assert!(decide(&jane, &Action::View, "posts", &none).is_allowed());
    assert!(!decide(&jane, &Action::Delete, "posts", &none).is_allowed());
    assert!(!decide(&jane, &Action::View, "authors", &none).is_allowed());
    assert_eq!(
        decide(&jane, &Action::Add, "posts", &none),
        Decision::Deny("no add_posts permission".into())
    );
    assert_eq!(visibility(&jane, "posts"), Visibility::All);
    assert_eq!(visibility(&jane, "authors"), Visibility::Nothing);
    assert!(model_listed(&jane, "posts") && !model_listed(&jane, "authors"));
}

#[test]
fn jane_can_only_edit_that_specific_post() {
    let jane = grants(&[], &[("posts", "change")]);
    let on_17 = set(&["change_posts"]);
    let none = HashSet::new();
    assert!(decide(&jane, &Action::Change, "posts", &on_17).is_allowed());
    assert!(
        decide(&jane, &Action::View, "posts", &on_17).is_allowed(),
        "change implies view"
    );
    assert!(
        !decide(&jane, &Action::Change, "posts", &none).is_allowed(),
        "another row"
    );
    assert!(!decide(&jane, &Action::Delete, "posts", &on_17).is_allowed());
    assert_eq!(visibility(&jane, "posts"), Visibility::Granted);
    assert!(model_listed(&jane, "posts"));
}

#[test]
fn superusers_everything_disabled_users_nothing() {
    let root = Grants {
        is_active: true,
        is_superuser: true,
        ..Grants::default()
    };
    let none = HashSet::new();
    assert!(decide(&root, &Action::Delete, "anything", &none).is_allowed());
    assert!(decide_moat(&root, moat_perms::MANAGE_USERS).is_allowed());
    assert_eq!(visibility(&root, "x"), Visibility::All);
    let disabled = Grants {
        is_active: false,
        ..root
    };
    assert!(!decide(&disabled, &Action::View, "x", &none).is_allowed());
    assert!(!decide_moat(&disabled, moat_perms::VIEW_AUDIT).is_allowed());
    assert_eq!(visibility(&disabled, "x"), Visibility::Nothing);
    assert!(!model_listed(&disabled, "x"));
}

#[test]
fn custom_verbs_and_moat_permissions() {
    let g = grants(&["export_posts", moat_perms::VIEW_AUDIT], &[]);
    let none = HashSet::new();
    assert!(decide(&g, &Action::Custom("export".into()), "posts", &none).is_allowed());
    assert!(!decide(&g, &Action::View, "posts", &none).is_allowed());
    assert!(decide_moat(&g, moat_perms::VIEW_AUDIT).is_allowed());
    assert!(!decide_moat(&g, moat_perms::MANAGE_USERS).is_allowed());
    assert!(model_listed(&g, "posts"), "any permission lists the model");
}

#[test]
fn granting_needs_holding() {
    let g = grants(&["view_posts", moat_perms::MANAGE_PERMISSIONS], &[]);
    assert!(may_grant(&g, "view_posts").is_allowed());
    assert!(!may_grant(&g, "change_posts").is_allowed());
    let caps = capabilities(&grants(&["change_posts"], &[]), "posts");
    assert_eq!(
        caps,
        Capabilities {
            change: true,
            ..Capabilities::default()
        }
    );
}

#[test]
fn row_capabilities_add_what_object_permissions_give_on_that_row() {
    let g = grants(&["view_posts"], &[]);
    let none = HashSet::new();
    assert_eq!(capabilities(&g, "posts"), Capabilities::default());
    let on_row: HashSet<String> = ["change_posts".to_string(), "delete_posts".to_string()].into();
    let caps = row_capabilities(&g, "posts", &on_row);
    assert!(caps.change && caps.delete && !caps.add && !caps.export);
    assert_eq!(
        row_capabilities(&g, "posts", &none),
        Capabilities::default()
    );
    let admin = Grants {
        is_superuser: true,
        ..g
    };
    assert_eq!(capabilities(&admin, "posts"), Capabilities::ALL);
}

/// A tiny deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
    fn chance(&mut self, one_in: u64) -> bool {
        self.next() % one_in == 0
    }
}

const MODELS: [&str; 3] = ["posts", "tags", "authors"];
const VERBS: [&str; 5] = ["view", "add", "change", "delete", "export"];
const PKS: [&str; 5] = ["1", "2", "3", "4", "5"];

/// Grants as an administrator would type them: per user and per group, model-level and
/// per row.
#[derive(Default)]
struct World {
    active: bool,
    superuser: bool,
    user_perms: Vec<String>,
    group_perms: Vec<Vec<String>>,
    user_objects: Vec<(String, String, String)>,
    group_objects: Vec<Vec<(String, String, String)>>,
}

impl World {
    fn random(rng: &mut Rng) -> World {
        let codename = |rng: &mut Rng| format!("{}_{}", rng.pick(&VERBS), rng.pick(&MODELS));
        let mut w = World {
            active: !rng.chance(10),
            superuser: rng.chance(15),
            ..World::default()
        };
        for _ in 0..rng.next() % 3 {
            w.user_perms.push(codename(rng));
        }
        for _ in 0..rng.next() % 3 {
            let perms = (0..rng.next() % 3).map(|_| codename(rng)).collect();
            w.group_perms.push(perms);
        }
        let object = |rng: &mut Rng| {
            let model = rng.pick(&MODELS);
            (
                format!("{}_{model}", rng.pick(&VERBS)),
                model.to_string(),
                rng.pick(&PKS).to_string(),
            )
        };
        for _ in 0..rng.next() % 4 {
            w.user_objects.push(object(rng));
        }
        for _ in 0..rng.next() % 3 {
            let objs = (0..rng.next() % 4).map(|_| object(rng)).collect();
            w.group_objects.push(objs);
        }
        w
    }

    fn all_objects(&self) -> impl Iterator<Item = &(String, String, String)> {
        self.user_objects
            .iter()
            .chain(self.group_objects.iter().flatten())
    }

    /// The reference: read the rule straight off the grants, no cleverness.
    fn allowed(&self, verb: &str, model: &str, pk: Option<&str>) -> bool {
        if !self.active {
            return false;
        }
        if self.superuser {
            return true;
        }
        let holds = |verb: &str| {
            let codename = format!("{verb}_{model}");
            let model_level = self.user_perms.contains(&codename)
                || self.group_perms.iter().any(|g| g.contains(&codename));
            let row_level = pk.is_some_and(|pk| {
                self.all_objects()
                    .any(|(c, m, p)| *c == codename && m == model && p == pk)
            });
            model_level || row_level
        };
        holds(verb) || (verb == "view" && holds("change"))
    }

    /// What the engine is given: the union loaded by the store.
    fn grants(&self) -> Grants {
        Grants {
            is_active: self.active,
            is_superuser: self.superuser,
            model_perms: self
                .user_perms
                .iter()
                .chain(self.group_perms.iter().flatten())
                .cloned()
                .collect(),
            object_models: self
                .all_objects()
                .map(|(c, m, _)| (m.clone(), c.split('_').next().unwrap_or("").to_string()))
                .collect(),
            groups: HashSet::new(),
        }
    }

    /// The codenames on one row, as the store returns them.
    fn row_perms(&self, model: &str, pk: &str) -> HashSet<String> {
        self.all_objects()
            .filter(|(_, m, p)| m == model && p == pk)
            .map(|(c, _, _)| c.clone())
            .collect()
    }

    /// Rows the list SQL returns for `Visibility::Granted`.
    fn granted_rows(&self, model: &str) -> HashSet<String> {
        let view = format!("view_{model}");
        let change = format!("change_{model}");
        self.all_objects()
            .filter(|(c, m, _)| m == model && (*c == view || *c == change))
            .map(|(_, _, p)| p.clone())
            .collect()
    }
}

fn action(verb: &str) -> Action {
    match verb {
        "view" => Action::View,
        "add" => Action::Add,
        "change" => Action::Change,
        "delete" => Action::Delete,
        other => Action::Custom(other.to_string()),
    }
}

#[test]
fn engine_agrees_with_the_reference_on_random_grants() {
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut cases = 0;
    for _ in 0..2_000 {
        let world = World::random(&mut rng);
        let g = world.grants();
        for _ in 0..5 {
            let (verb, model) = (rng.pick(&VERBS), rng.pick(&MODELS));
            let pk = (!rng.chance(4)).then(|| rng.pick(&PKS));
            let row = pk.map(|p| world.row_perms(model, p)).unwrap_or_default();
            let engine = decide(&g, &action(verb), model, &row).is_allowed();
            assert_eq!(
                engine,
                world.allowed(verb, model, pk),
                "{verb} {model} {pk:?} with {g:?} / row {row:?}"
            );
            cases += 1;

            // Lists show exactly the rows the engine lets the user view.
            let visible: HashSet<String> = match visibility(&g, model) {
                Visibility::All => PKS.iter().map(|p| p.to_string()).collect(),
                Visibility::Granted => world.granted_rows(model),
                Visibility::Nothing => HashSet::new(),
            };
            for p in PKS {
                assert_eq!(
                    visible.contains(p),
                    world.allowed("view", model, Some(p)),
                    "visibility of {model}/{p} with {g:?}"
                );
            }
        }
    }
    assert!(cases >= 10_000, "{cases} cases");
}

/// A random group as `moat group add` and `perm assign --group` would make it, and the
/// column-rule exemptions config gives it.
struct RandomGroup {
    perms: Vec<String>,
    objects: Vec<(String, String, String)>,
    exempt_on: Vec<String>,
}

impl RandomGroup {
    fn random(rng: &mut Rng) -> RandomGroup {
        let codename = |rng: &mut Rng| format!("{}_{}", rng.pick(&VERBS), rng.pick(&MODELS));
        let perms = (0..rng.next() % 3).map(|_| codename(rng)).collect();
        let objects = (0..rng.next() % 3)
            .map(|_| {
                let model = rng.pick(&MODELS);
                (
                    format!("{}_{model}", rng.pick(&VERBS)),
                    model.to_string(),
                    rng.pick(&PKS).to_string(),
                )
            })
            .collect();
        let exempt_on = MODELS
            .iter()
            .filter(|_| rng.chance(6))
            .map(|m| m.to_string())
            .collect();
        RandomGroup {
            perms,
            objects,
            exempt_on,
        }
    }

    fn conferred(&self) -> Conferred {
        Conferred {
            model_perms: self.perms.clone(),
            object_perms: self
                .objects
                .iter()
                .map(|(c, m, p)| ObjectGrant {
                    codename: c.clone(),
                    model: m.clone(),
                    pk: p.clone(),
                })
                .collect(),
            exempt_on: self.exempt_on.clone(),
        }
    }
}

fn random_exemptions(rng: &mut Rng) -> HashSet<String> {
    MODELS
        .iter()
        .filter(|_| rng.chance(4))
        .map(|m| m.to_string())
        .collect()
}

#[test]
fn joining_a_group_never_gives_the_member_what_the_actor_lacks() {
    let mut rng = Rng(0x0bad_cafe_f00d_0001);
    let mut cases = 0;
    let mut allowed = 0;
    for _ in 0..2_000 {
        let actor = World::random(&mut rng);
        let actor_exempt = random_exemptions(&mut rng);
        for _ in 0..5 {
            let group = RandomGroup::random(&mut rng);
            let mut member = World::random(&mut rng);
            member.active = true;
            member.superuser = false;
            let member_exempt = random_exemptions(&mut rng);

            let g = actor.grants();
            let rows = group
                .objects
                .iter()
                .map(|(_, m, p)| ((m.clone(), p.clone()), actor.row_perms(m, p)))
                .collect();
            let held = Held {
                grants: &g,
                rows: &rows,
                exempt_on: &actor_exempt,
            };
            let engine = may_confer(&held, &group.conferred()).is_allowed();

            // The reference: the actor can already do each thing the group gives.
            let verb_model = |c: &str| {
                let (v, m) = c.split_once('_').unwrap();
                (v.to_string(), m.to_string())
            };
            let reference = actor.active
                && (actor.superuser
                    || (group.perms.iter().all(|c| {
                        let (v, m) = verb_model(c);
                        actor.allowed(&v, &m, None)
                    }) && group.objects.iter().all(|(c, _, p)| {
                        let (v, m) = verb_model(c);
                        actor.allowed(&v, &m, Some(p))
                    }) && group.exempt_on.iter().all(|m| actor_exempt.contains(m))));
            assert_eq!(
                engine, reference,
                "group {:?} {:?} {:?}, actor {g:?} exempt {actor_exempt:?}",
                group.perms, group.objects, group.exempt_on
            );
            cases += 1;

            // And what an allowed change does: the member gains nothing the actor lacks.
            if engine {
                allowed += 1;
                let mut joined = World {
                    active: true,
                    superuser: false,
                    user_perms: member.user_perms.clone(),
                    group_perms: member.group_perms.clone(),
                    user_objects: member.user_objects.clone(),
                    group_objects: member.group_objects.clone(),
                };
                joined.group_perms.push(group.perms.clone());
                joined.group_objects.push(group.objects.clone());
                for verb in VERBS {
                    for model in MODELS {
                        for pk in PKS.iter().map(Some).chain([None]) {
                            let pk = pk.copied();
                            if joined.allowed(verb, model, pk) {
                                assert!(
                                    member.allowed(verb, model, pk)
                                        || actor.allowed(verb, model, pk),
                                    "joining gave {verb} {model} {pk:?} that the actor lacks"
                                );
                            }
                        }
                    }
                }
                // Exemptions: only superusers confer ones they do not hold themselves.
                for m in &group.exempt_on {
                    assert!(
                        actor.superuser || member_exempt.contains(m) || actor_exempt.contains(m),
                        "joining gave an exemption on {m} that the actor lacks"
                    );
                }
            }
        }
    }
    assert!(cases >= 10_000, "{cases} cases");
    assert!(
        allowed > 500 && allowed < cases - 500,
        "{allowed} of {cases} allowed: both sides tested"
    );
}

#[test]
fn confer_names_what_is_missing() {
    let actor = grants(&["view_authors", "view_posts", "change_posts"], &[]);
    let rows = std::collections::HashMap::new();
    let none = HashSet::new();
    let held = Held {
        grants: &actor,
        rows: &rows,
        exempt_on: &none,
    };
    // hr is exempt from the authors column rules: membership would show authors.email.
    let hr = Conferred {
        exempt_on: vec!["authors".into()],
        ..Conferred::default()
    };
    assert_eq!(
        may_confer(&held, &hr),
        Decision::Deny("you are not exempt from the column rules of authors yourself".into())
    );
    // reviewers hold delete_posts on post 42.
    let reviewers = Conferred {
        object_perms: vec![ObjectGrant {
            codename: "delete_posts".into(),
            model: "posts".into(),
            pk: "42".into(),
        }],
        ..Conferred::default()
    };
    assert_eq!(
        may_confer(&held, &reviewers),
        Decision::Deny("you do not hold delete_posts on posts #42 yourself".into())
    );
    // Holding change_posts covers giving view_posts, on every row or one.
    let viewers = Conferred {
        model_perms: vec!["view_posts".into()],
        object_perms: vec![ObjectGrant {
            codename: "view_posts".into(),
            model: "posts".into(),
            pk: "7".into(),
        }],
        ..Conferred::default()
    };
    assert!(may_confer(&held, &viewers).is_allowed());
    // A superuser confers anything, exemptions included.
    let root = Grants {
        is_superuser: true,
        ..actor.clone()
    };
    let held = Held {
        grants: &root,
        ..held
    };
    assert!(may_confer(&held, &hr).is_allowed() && may_confer(&held, &reviewers).is_allowed());
}

#[test]
fn a_cascade_needs_delete_on_every_model_it_reaches() {
    use crate::domain::{ForeignKey, Schema, TableInfo};
    let table = |name: &str, refs: &[(&str, &str)]| TableInfo {
        name: name.into(),
        columns: Vec::new(),
        primary_key: Vec::new(),
        foreign_keys: refs
            .iter()
            .map(|(to, on_delete)| ForeignKey {
                columns: vec!["x".into()],
                ref_table: to.to_string(),
                ref_columns: Vec::new(),
                on_delete: on_delete.to_string(),
            })
            .collect(),
        has_rowid: true,
        pg_name: None,
    };
    // posts ← comments (cascade) ← reactions (cascade); posts ← post_tags (cascade);
    // comments ← flags (set null: not reached).
    let schema = Schema {
        tables: vec![
            table("posts", &[]),
            table("comments", &[("posts", "CASCADE")]),
            table("reactions", &[("comments", "cascade")]),
            table("post_tags", &[("posts", "CASCADE")]),
            table("flags", &[("comments", "SET NULL")]),
        ],
    };
    let g = grants(&["delete_posts", "delete_comments"], &[]);
    assert_eq!(
        cascade_blockers(&g, &schema, &["comments".into()]),
        vec!["reactions".to_string()],
        "reached through comments"
    );
    assert_eq!(
        cascade_blockers(&g, &schema, &["comments".into(), "post_tags".into()]),
        vec!["post_tags".to_string(), "reactions".to_string()]
    );
    assert!(
        cascade_blockers(&g, &schema, &[]).is_empty(),
        "nothing cascades"
    );
    let root = Grants {
        is_superuser: true,
        ..g
    };
    assert!(cascade_blockers(&root, &schema, &["comments".into()]).is_empty());
}

#[test]
fn object_permissions_are_verbs_on_that_model_never_moats_own() {
    assert!(check_object_codename("view_posts", "posts").is_ok());
    assert!(check_object_codename("change_post_tags", "post_tags").is_ok());
    let err = check_object_codename("view_posts", "tags").unwrap_err();
    assert!(err.contains("not a permission on tags"), "{err}");
    // `moat.manage_users` would read as a verb on a table named `users`.
    let err = check_object_codename(moat_perms::MANAGE_USERS, "users").unwrap_err();
    assert!(err.contains("never on a row"), "{err}");
}

#[test]
fn recordings_need_their_own_permission() {
    // An auditor of the trail does not see consoles (nor their values).
    let auditor = grants(
        &[moat_perms::VIEW_AUDIT, moat_perms::VIEW_AUDIT_VALUES],
        &[],
    );
    assert_eq!(
        decide_moat(&auditor, moat_perms::VIEW_RECORDINGS),
        Decision::Deny("no moat.view_recordings permission".into())
    );
    let viewer = grants(&[moat_perms::VIEW_RECORDINGS], &[]);
    assert!(decide_moat(&viewer, moat_perms::VIEW_RECORDINGS).is_allowed());
    let root = Grants {
        is_superuser: true,
        ..grants(&[], &[])
    };
    assert!(decide_moat(&root, moat_perms::VIEW_RECORDINGS).is_allowed());
    let disabled = Grants {
        is_active: false,
        ..viewer.clone()
    };
    assert!(!decide_moat(&disabled, moat_perms::VIEW_RECORDINGS).is_allowed());
    // It is a permission like moat's others: granted only by someone who holds it, and
    // never on a row.
    assert!(!may_grant(&auditor, moat_perms::VIEW_RECORDINGS).is_allowed());
    assert!(may_grant(&viewer, moat_perms::VIEW_RECORDINGS).is_allowed());
    assert!(check_object_codename(moat_perms::VIEW_RECORDINGS, "recordings").is_err());
    assert!(moat_perms::ALL.contains(&moat_perms::VIEW_RECORDINGS));
}

#[test]
fn an_unknown_codename_is_blamed_on_its_verb_before_its_model() {
    let posts = crate::domain::TableInfo {
        name: "posts".into(),
        columns: vec![],
        primary_key: vec!["id".into()],
        foreign_keys: vec![],
        has_rowid: true,
        pg_name: None,
    };
    let schema = crate::domain::Schema {
        tables: vec![posts],
    };
    let mut models = std::collections::BTreeMap::new();
    models.insert(
        "posts".to_string(),
        crate::config::ModelConfig {
            actions: vec!["export".into()],
            ..Default::default()
        },
    );
    let check = |c: &str| check_codename(&schema, &models, c);
    assert!(check("view_posts").is_ok());
    assert!(check("export_posts").is_ok());
    assert!(check("moat.manage_users").is_ok());
    let err = check("bogus_perm").unwrap_err();
    assert!(
        err.contains("`bogus` is not view, add, change, delete"),
        "{err}"
    );
    assert!(!err.contains("no model"), "{err}");
    let err = check("view_ghosts").unwrap_err();
    assert!(err.contains("no model `ghosts`"), "{err}");
    let err = check("export_ghosts").unwrap_err();
    assert!(err.contains("no model `ghosts`"), "{err}");
    let err = check("nounderscore").unwrap_err();
    assert!(err.contains("VERB_MODEL"), "{err}");
}
