//! The console's two languages: English and Chinese, chosen from the
//! `storecheck_lang` cookie when the user switched, else from the
//! browser's `Accept-Language`.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::http::{HeaderMap, header};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

pub const LANG_COOKIE: &str = "storecheck_lang";

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    /// The HTML `lang` attribute.
    pub fn html(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-Hans",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        match code {
            "en" => Some(Lang::En),
            "zh" => Some(Lang::Zh),
            _ => None,
        }
    }

    /// The other language, for the switch.
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Zh,
            Lang::Zh => Lang::En,
        }
    }

    /// The cookie when set, else the best of `Accept-Language`, else English.
    pub fn of(headers: &HeaderMap) -> Lang {
        if let Some(l) = super::cookies::cookie(headers, LANG_COOKIE).and_then(Lang::parse) {
            return l;
        }
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(from_accept_language)
            .unwrap_or(Lang::En)
    }

    /// Pick between a text's two languages.
    pub fn pick<'a>(self, en: &'a str, zh: &'a str) -> &'a str {
        match self {
            Lang::Zh if !zh.is_empty() => zh,
            _ if en.is_empty() => zh,
            _ => en,
        }
    }
}

/// The language of the highest-weighted `en*` or `zh*` entry; the first
/// listed wins a tie.
pub fn from_accept_language(value: &str) -> Option<Lang> {
    let mut best: Option<(f32, Lang)> = None;
    for entry in value.split(',') {
        let mut parts = entry.split(';');
        let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q=").map(str::to_owned))
            .and_then(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let primary = tag.split('-').next().unwrap_or("");
        let Some(lang) = Lang::parse(primary) else {
            continue;
        };
        if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
            best = Some((q, lang));
        }
    }
    best.map(|(_, l)| l)
}

/// The texts of one language, for templates: `t.s("key")`.
#[derive(Debug, Clone, Copy)]
pub struct Tr(pub Lang);

impl Tr {
    /// The text for `key`; an unknown key shows as itself (a unit test
    /// checks every key the templates use).
    pub fn s(&self, key: &str) -> &'static str {
        match table().get(key) {
            Some((en, zh)) => match self.0 {
                Lang::En => en,
                Lang::Zh => zh,
            },
            None => {
                tracing::warn!(key, "console text missing");
                "?"
            }
        }
    }

    pub fn lang(&self) -> Lang {
        self.0
    }

    /// The name of an audit or corrective action status (`submitted`, …).
    pub fn status(&self, code: &str) -> &'static str {
        self.s(&format!("status.{code}"))
    }

    /// The name of a compliance band (`meets`, …).
    pub fn band(&self, code: &str) -> &'static str {
        self.s(&format!("band.{code}"))
    }

    /// What an evidence flag means; a flag without a text shows its code.
    pub fn flag(&self, code: &str) -> String {
        match table().get(format!("flag.{code}").as_str()) {
            Some((en, zh)) => self.0.pick(en, zh).to_owned(),
            None => code.to_owned(),
        }
    }

    /// The name of a role (`hq`, …).
    pub fn role(&self, code: &str) -> &'static str {
        self.s(&format!("role.{code}"))
    }
}

fn table() -> &'static HashMap<&'static str, (&'static str, &'static str)> {
    static T: OnceLock<HashMap<&'static str, (&'static str, &'static str)>> = OnceLock::new();
    T.get_or_init(|| TEXTS.iter().map(|(k, en, zh)| (*k, (*en, *zh))).collect())
}

/// Whether a key has texts (for the template check).
pub fn has(key: &str) -> bool {
    table().contains_key(key)
}

/// (key, English, Chinese)
const TEXTS: &[(&str, &str, &str)] = &[
    ("app", "storecheck", "storecheck"),
    ("nav.queue", "Audits", "审核队列"),
    ("nav.actions", "Corrective actions", "整改措施"),
    ("nav.compliance", "Compliance", "合规"),
    ("nav.hq", "Organisation", "组织"),
    ("nav.api", "API docs", "API 文档"),
    ("nav.signout", "Sign out", "退出"),
    ("nav.skip", "Skip to content", "跳到正文"),
    ("lang.switch", "中文", "English"),
    ("signin.title", "Sign in", "登录"),
    ("signin.email", "E-mail", "电子邮箱"),
    ("signin.password", "Password", "密码"),
    ("signin.submit", "Sign in", "登录"),
    (
        "signin.intro",
        "The console is for regional managers and head office.",
        "控制台供区域经理和总部使用。",
    ),
    (
        "signin.wrong",
        "Wrong e-mail address or password.",
        "电子邮箱或密码错误。",
    ),
    (
        "signin.auditor",
        "You are signed up as an auditor: audits are made in the phone app. The console is for regional managers and head office.",
        "您的账号是审核员账号：审核请在手机应用中完成。控制台供区域经理和总部使用。",
    ),
    (
        "signin.disabled",
        "This account is disabled.",
        "此账号已停用。",
    ),
    (
        "signin.throttled",
        "Too many failed sign-ins. Try again later.",
        "登录失败次数过多，请稍后再试。",
    ),
    (
        "signin.expired",
        "The sign-in form had expired. Please try again.",
        "登录表单已过期，请重试。",
    ),
    ("queue.title", "Audit queue", "审核队列"),
    ("queue.filter", "Filter", "筛选"),
    ("queue.clear", "Clear", "清除"),
    ("queue.empty", "No audits match.", "没有符合条件的审核。"),
    ("queue.next", "Older audits", "更早的审核"),
    ("queue.first", "Newest", "最新"),
    ("queue.counts", "By status", "按状态"),
    ("queue.all", "All", "全部"),
    ("queue.any", "Any", "不限"),
    ("queue.flagged_only", "Flagged", "有标记"),
    ("queue.unflagged_only", "Not flagged", "无标记"),
    ("field.status", "Status", "状态"),
    ("field.region", "Region", "区域"),
    ("field.store", "Store", "门店"),
    ("field.store_code", "Store code", "门店编号"),
    ("field.auditor", "Auditor", "审核员"),
    ("field.quarter", "Quarter", "季度"),
    ("field.flags", "Flags", "标记"),
    ("field.score", "Score", "得分"),
    ("field.finished", "Visited", "走访时间"),
    ("field.revision", "Revision", "版本"),
    ("field.critical", "Critical failure", "关键项失败"),
    ("field.band", "Band", "等级"),
    ("field.rank", "Rank", "排名"),
    ("field.trend", "Trend", "趋势"),
    ("field.previous", "Previous quarter", "上季度"),
    ("field.audits_counted", "Audits", "审核数"),
    ("field.mean", "Mean score", "平均分"),
    ("field.stores", "Stores", "门店数"),
    ("field.audited", "Audited", "已审核"),
    ("field.standard", "Standard", "标准"),
    ("field.answer", "Answer", "回答"),
    ("field.note", "Note", "备注"),
    ("field.due", "Due", "截止"),
    ("field.code", "Code", "编号"),
    ("field.name", "Name", "名称"),
    ("field.email", "E-mail", "电子邮箱"),
    ("field.role", "Role", "角色"),
    ("field.regions", "Regions", "区域"),
    ("field.timezone", "Time zone", "时区"),
    ("field.version", "Version", "版本"),
    ("field.published", "Published", "发布时间"),
    ("field.disabled", "Disabled", "已停用"),
    ("field.dimension", "Dimension", "维度"),
    ("field.failure_rate", "Failure rate", "不合格率"),
    ("field.failed", "Failed", "不合格"),
    ("field.assessed", "Assessed", "评估次数"),
    ("field.target", "Target", "目标"),
    ("field.when", "When", "时间"),
    ("field.who", "Who", "操作人"),
    ("field.what", "What", "操作"),
    ("field.reason", "Reason", "原因"),
    ("field.comment", "Comment", "意见"),
    ("field.value", "Value", "值"),
    ("field.skew", "Clock skew", "时钟偏差"),
    ("field.received", "Received", "接收时间"),
    ("field.created", "Created", "创建时间"),
    ("field.address", "Address", "地址"),
    ("field.line", "Line", "行"),
    ("field.column", "Column", "列"),
    ("hq.search", "Search", "搜索"),
    ("hq.file", "CSV file", "CSV 文件"),
    (
        "hq.problems",
        "Nothing was imported. Fix these cells and import again:",
        "未导入任何数据。请修正以下单元格后重新导入：",
    ),
    ("status.draft", "Draft", "草稿"),
    ("status.submitted", "Submitted", "已提交"),
    ("status.returned", "Returned", "已退回"),
    ("status.approved", "Approved", "已批准"),
    ("status.rejected", "Rejected", "已拒绝"),
    ("status.open", "Open", "待整改"),
    ("status.resolved", "Resolved", "已整改"),
    ("status.verified", "Verified", "已验证"),
    ("band.non_compliant", "Non-compliant", "不合规"),
    ("band.below", "Below", "未达标"),
    ("band.meets", "Meets", "达标"),
    ("band.exceeds", "Exceeds", "优秀"),
    ("band.not_audited", "Not audited", "未审核"),
    ("audit.title", "Audit", "审核"),
    ("audit.answers", "Answers", "回答"),
    ("audit.scores", "Scores", "得分"),
    ("audit.sections", "Sections", "分区"),
    ("audit.dimensions", "Dimensions", "维度"),
    ("audit.photos", "Photos", "照片"),
    ("audit.no_photos", "No photos.", "没有照片。"),
    ("audit.photo_waiting", "Not received yet", "尚未收到"),
    ("audit.revisions", "Revisions", "版本记录"),
    (
        "audit.conflicts",
        "Kept aside (conflicts)",
        "冲突（已保留）",
    ),
    ("audit.no_conflicts", "None.", "无。"),
    ("audit.history", "Audit log", "审核日志"),
    (
        "audit.no_history",
        "Nothing reviewed yet.",
        "尚无审核记录。",
    ),
    ("audit.evidence", "Evidence flags", "证据标记"),
    ("audit.no_flags", "No evidence flags.", "没有证据标记。"),
    ("audit.failed", "failed", "不合格"),
    ("audit.na", "N/A", "不适用"),
    ("audit.unanswered", "not answered", "未回答"),
    ("audit.overridden", "corrected by review", "经审核更正"),
    ("audit.phone_said", "phone", "手机原答"),
    ("audit.base", "Base", "基础分"),
    ("audit.bonus", "Bonus", "加分"),
    ("audit.deductions", "Deductions", "扣分"),
    ("audit.review", "Review", "审核操作"),
    ("audit.approve", "Approve", "批准"),
    ("audit.return", "Return to auditor", "退回审核员"),
    ("audit.reject", "Reject", "拒绝"),
    ("audit.override", "Correct this answer", "更正此回答"),
    ("audit.override_submit", "Save correction", "保存更正"),
    (
        "audit.closed",
        "This audit is closed to review.",
        "此审核不在待审状态。",
    ),
    ("audit.no_checkin", "no check-in", "未签到"),
    ("audit.checkin", "Check-in distance", "签到距离"),
    ("audit.phone", "auditor's phone", "审核员手机"),
    ("audit.checklist", "Checklist", "检查表"),
    (
        "audit.rescored",
        "re-scored after corrections",
        "更正后重新计分",
    ),
    (
        "audit.photos_waiting",
        "photo files not received yet",
        "张照片尚未收到",
    ),
    ("audit.in_force", "in force", "生效中"),
    ("audit.decision", "Decision", "决定"),
    (
        "audit.comment_hint",
        "Required to return or reject: the auditor reads it on the phone.",
        "退回或拒绝时必填：审核员会在手机上看到。",
    ),
    ("audit.submit_review", "Submit review", "提交审核"),
    ("audit.to_review", "To the review form", "前往审核表单"),
    ("audit.guidance", "Guidance", "说明"),
    (
        "audit.matches",
        "looks like photos of other audits",
        "与其他审核的照片相似",
    ),
    ("audit.review_comment", "Reviewer's comment", "审核意见"),
    ("audit.open_full", "Open the review size", "查看大图"),
    ("event.resubmitted", "Resubmitted", "重新提交"),
    ("event.approved", "Approved", "批准"),
    ("event.returned", "Returned", "退回"),
    ("event.rejected", "Rejected", "拒绝"),
    ("event.overridden", "Answer corrected", "更正回答"),
    ("photo.pending_upload", "Not received yet", "尚未收到"),
    ("photo.uploaded", "Received, processing", "已收到，处理中"),
    ("photo.processed", "Processed", "已处理"),
    ("photo.invalid", "Unusable file", "文件无法使用"),
    (
        "flag.visit_outside_window",
        "Visit outside the assignment's window",
        "走访不在任务时间窗内",
    ),
    ("flag.no_checkin", "No check-in location", "没有签到位置"),
    (
        "flag.checkin_outside_geofence",
        "Check-in far from the store",
        "签到位置远离门店",
    ),
    (
        "flag.assignment_cancelled",
        "Assignment was cancelled",
        "任务已取消",
    ),
    (
        "flag.assignment_reassigned",
        "Assignment was given to another auditor",
        "任务已改派他人",
    ),
    (
        "flag.version_differs_from_assignment",
        "Checklist version differs from the assignment's",
        "检查表版本与任务不符",
    ),
    (
        "flag.photo_taken_outside_visit",
        "Photo taken outside the visit",
        "照片拍摄时间不在走访期间",
    ),
    (
        "flag.photo_off_site",
        "Photo taken away from the store",
        "照片拍摄地点远离门店",
    ),
    (
        "flag.photo_reused",
        "Photo like one from another audit",
        "照片与其他审核的照片相似",
    ),
    (
        "flag.photo_file_in_other_audit",
        "Same photo file in another audit",
        "同一照片文件出现在其他审核中",
    ),
    ("done.approve", "Approved.", "已批准。"),
    ("done.return", "Returned to the auditor.", "已退回审核员。"),
    ("done.reject", "Rejected.", "已拒绝。"),
    (
        "done.override",
        "Answer corrected and re-scored.",
        "回答已更正并重新计分。",
    ),
    ("done.resolved", "Marked resolved.", "已标记为已整改。"),
    ("done.import", "Stores imported.", "门店已导入。"),
    ("actions.title", "Corrective actions", "整改措施"),
    ("actions.overdue", "Overdue", "已逾期"),
    ("actions.others", "Not overdue", "未逾期"),
    ("actions.empty", "None.", "无。"),
    ("actions.resolve", "Mark resolved", "标记已整改"),
    ("actions.reopened", "reopened", "重新打开"),
    ("actions.open_audit", "audit", "审核"),
    ("compliance.title", "Compliance", "合规"),
    ("compliance.stores", "Stores", "门店"),
    ("compliance.regions", "Regions", "区域"),
    ("compliance.bands_chart", "Stores per band", "各等级门店数"),
    (
        "compliance.dimensions_chart",
        "Dimension means against the target",
        "各维度平均分与目标",
    ),
    (
        "compliance.pareto",
        "Most-failed standards",
        "不合格最多的标准",
    ),
    ("compliance.trend", "Score over quarters", "各季度得分"),
    ("compliance.download", "Download", "下载"),
    ("compliance.csv", "CSV", "CSV"),
    ("compliance.xlsx", "Excel", "Excel"),
    ("compliance.show", "Show", "显示"),
    ("compliance.all_regions", "All regions", "全部区域"),
    (
        "compliance.sort_hint",
        "Choose a region to sort its stores.",
        "选择一个区域后可排序其门店。",
    ),
    ("compliance.next", "More stores", "更多门店"),
    ("compliance.empty", "No stores.", "没有门店。"),
    (
        "compliance.no_failures",
        "No failures this quarter.",
        "本季度没有不合格项。",
    ),
    ("compliance.store_title", "Store compliance", "门店合规"),
    ("hq.regions", "Regions", "区域"),
    ("hq.stores", "Stores", "门店"),
    ("hq.users", "Users", "用户"),
    ("hq.checklists", "Checklists", "检查表"),
    ("hq.import", "Import stores (CSV)", "导入门店（CSV）"),
    (
        "hq.import_hint",
        "Paste the CSV (header: code,name,address,latitude,longitude,timezone,region_code) or choose a file.",
        "粘贴 CSV（表头：code,name,address,latitude,longitude,timezone,region_code）或选择文件。",
    ),
    ("hq.import_submit", "Import", "导入"),
    (
        "hq.api_only",
        "Editing is done through the API; see the API docs.",
        "编辑请通过 API 完成，参见 API 文档。",
    ),
    ("hq.draft", "Draft changes waiting", "有未发布的草稿修改"),
    ("hq.more", "More", "更多"),
    ("hq.empty", "None yet.", "暂无。"),
    ("role.hq", "Head office", "总部"),
    ("role.regional_manager", "Regional manager", "区域经理"),
    ("role.auditor", "Auditor", "审核员"),
    ("error.title", "Something went wrong", "出错了"),
    ("error.not_found", "Not found", "未找到"),
    ("error.forbidden", "Not allowed", "无权限"),
    ("error.back", "Back to the audit queue", "返回审核队列"),
    ("yes", "Yes", "是"),
    ("no", "No", "否"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_highest_weight() {
        assert_eq!(
            from_accept_language("zh-CN,zh;q=0.9,en;q=0.8"),
            Some(Lang::Zh)
        );
        assert_eq!(
            from_accept_language("en-GB,en;q=0.9,zh;q=0.8"),
            Some(Lang::En)
        );
        assert_eq!(
            from_accept_language("fr-FR,zh-TW;q=0.5,en;q=0.7"),
            Some(Lang::En)
        );
        assert_eq!(from_accept_language("de,fr"), None);
        assert_eq!(from_accept_language("en;q=0,zh;q=0.1"), Some(Lang::Zh));
    }

    #[test]
    fn every_key_has_both_languages_once() {
        let mut seen = std::collections::HashSet::new();
        for (k, en, zh) in TEXTS {
            assert!(seen.insert(*k), "{k} twice");
            assert!(!en.is_empty() && !zh.is_empty(), "{k} lacks a text");
        }
    }

    #[test]
    fn every_status_band_and_role_has_a_name() {
        use storecheck_shared::compliance::Band;
        use storecheck_shared::review::ActionStatus;
        use storecheck_shared::sync::AuditStatus;
        let mut codes: Vec<String> = Vec::new();
        for s in [
            AuditStatus::Submitted,
            AuditStatus::Returned,
            AuditStatus::Approved,
            AuditStatus::Rejected,
        ] {
            codes.push(format!("status.{}", s.as_str()));
        }
        for s in [
            ActionStatus::Open,
            ActionStatus::Resolved,
            ActionStatus::Verified,
        ] {
            let code = serde_json::to_value(s).expect("status");
            codes.push(format!("status.{}", code.as_str().expect("text")));
        }
        for b in Band::ALL {
            codes.push(format!("band.{}", b.as_str()));
        }
        for r in storecheck_shared::Role::ALL {
            codes.push(format!("role.{}", r.as_str()));
        }
        for c in codes {
            assert!(has(&c), "no text for {c}");
        }
    }

    /// Every `t.s("…")` in the templates names a key of the table.
    #[test]
    fn templates_use_known_keys() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).expect("templates dir") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("template");
            for piece in text.split("t.s(\"").skip(1) {
                let key = piece.split('"').next().unwrap_or("");
                assert!(has(key), "{}: unknown text key {key:?}", path.display());
                checked += 1;
            }
        }
        assert!(checked > 50, "only {checked} keys found");
    }
}
