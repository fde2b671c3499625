//! Chinese full-text search over the published catalog, with facets (R-CAT-5).
//!
//! The index is a projection of the store: it holds the newest published version of every entry and nothing the
//! store does not. It lives in memory, is built from the store at start-up and kept in step by the service layer
//! (immediately after each publication, and by a periodic reconciliation that also catches publications made by
//! other instances). Losing it loses nothing: it is rebuilt from the store.
//!
//! Matching. Every query word must match somewhere in the entry's name, abstract or data items. A word matches
//! either as a jieba token (which ranks precise word matches first) or as a run of overlapping character bigrams
//! (which finds words jieba segments differently in the entry, e.g. 「低保」 inside 「城乡低保对象」). The name
//! weighs more than the data items, which weigh more than the abstract. A word that names a data item with
//! synonyms (`govshare_domain::source`, the table the duplicate-collection check uses) matches as any of them:
//! 「身份证」 finds an entry whose item is 「公民身份号码」.

mod bigram;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use govshare_domain::catalog::{CatalogEntry, DataFormat, DeliveryMethod, EntryId, SharingAttribute};
use govshare_domain::federation::{FederatedEntry, NodeId};
use govshare_domain::org::{OrgId, Organisation};
use govshare_domain::region::RegionCode;
use govshare_domain::source::search_aliases;
use serde::{Deserialize, Serialize};
use tantivy::collector::{Count, FacetCollector, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, BoostQuery, Occur, PhraseQuery, Query, TermQuery};
use tantivy::schema::{
    FAST, Facet, FacetOptions, Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::tokenizer::{LowerCaser, TextAnalyzer, TokenStream};
use tantivy::{DocAddress, Index, IndexReader, IndexWriter, Order, ReloadPolicy, TantivyDocument, Term};

pub use bigram::BigramTokenizer;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index error: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("search index lock poisoned")]
    Poisoned,
}

pub type Result<T, E = SearchError> = std::result::Result<T, E>;

/// A facet dimension of the catalog browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Provider,
    Attribute,
    Grade,
    Format,
    Delivery,
    Region,
    /// The node of the national system that owns the entry (only entries delivered by other nodes, or this
    /// node's own once it is federated, have one).
    Node,
}

impl Dimension {
    pub const ALL: [Dimension; 7] = [
        Dimension::Provider,
        Dimension::Attribute,
        Dimension::Grade,
        Dimension::Format,
        Dimension::Delivery,
        Dimension::Region,
        Dimension::Node,
    ];

    /// The name used in facet paths and query parameters.
    pub fn key(self) -> &'static str {
        match self {
            Dimension::Provider => "provider",
            Dimension::Attribute => "attribute",
            Dimension::Grade => "grade",
            Dimension::Format => "format",
            Dimension::Delivery => "delivery",
            Dimension::Region => "region",
            Dimension::Node => "node",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Dimension::Provider => "提供部门",
            Dimension::Attribute => "共享属性",
            Dimension::Grade => "分级",
            Dimension::Format => "数据格式",
            Dimension::Delivery => "共享方式",
            Dimension::Region => "行政区划",
            Dimension::Node => "所在节点",
        }
    }

    fn root(self) -> Facet {
        Facet::from_path([self.key()])
    }

    fn facet(self, value: &str) -> Facet {
        Facet::from_path([self.key(), value])
    }
}

/// What the index holds of one entry: its newest published version, with the provider it needs for facets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchDoc {
    pub id: EntryId,
    pub version: u32,
    pub name: String,
    pub resource_code: String,
    pub summary: String,
    pub provider: OrgId,
    pub provider_name: String,
    pub region: RegionCode,
    pub attribute: SharingAttribute,
    /// `{class}-{level}`, e.g. `一般数据-3`.
    pub grade: String,
    pub format: DataFormat,
    pub delivery: Vec<DeliveryMethod>,
    /// Data-item names and codes.
    pub items: Vec<(String, String)>,
    pub published_at: DateTime<Utc>,
    /// The node that owns the entry, in a federated catalog (None: this node, not federated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<NodeId>,
}

impl SearchDoc {
    /// The document of an entry's newest published version; None when nothing of it is published.
    pub fn of(entry: &CatalogEntry, provider: &Organisation) -> Option<SearchDoc> {
        let published = entry.published()?;
        let c = &published.content;
        Some(SearchDoc {
            id: entry.id,
            version: published.version,
            name: c.name.clone(),
            resource_code: c.resource_code.clone(),
            summary: c.summary.clone(),
            provider: provider.id,
            provider_name: provider.name.clone(),
            region: provider.region,
            attribute: c.sharing.attribute(),
            grade: grade_key(&c.grade.class, c.grade.level),
            format: c.format,
            delivery: c.delivery_methods.iter().copied().collect(),
            items: c.items.iter().map(|i| (i.name.clone(), i.code.clone())).collect(),
            published_at: published.updated_at,
            node: None,
        })
    }

    /// The document of an entry another node owns.
    pub fn federated(entry: &FederatedEntry) -> SearchDoc {
        let c = &entry.content;
        SearchDoc {
            id: entry.id,
            version: entry.version,
            name: c.name.clone(),
            resource_code: c.resource_code.clone(),
            summary: c.summary.clone(),
            provider: entry.provider,
            provider_name: entry.provider_name.clone(),
            region: entry.provider_region,
            attribute: c.sharing.attribute(),
            grade: grade_key(&c.grade.class, c.grade.level),
            format: c.format,
            delivery: c.delivery_methods.iter().copied().collect(),
            items: c.items.iter().map(|i| (i.name.clone(), i.code.clone())).collect(),
            published_at: entry.published_at,
            node: Some(entry.origin.clone()),
        }
    }

    fn facet_values(&self) -> Vec<(Dimension, String)> {
        let mut values = vec![
            (Dimension::Provider, self.provider.to_string()),
            (Dimension::Attribute, self.attribute.code().to_owned()),
            (Dimension::Grade, self.grade.clone()),
            (Dimension::Format, self.format.code().to_owned()),
            (Dimension::Region, self.region.to_string()),
        ];
        values.extend(self.delivery.iter().map(|d| (Dimension::Delivery, d.code().to_owned())));
        values.extend(self.node.iter().map(|n| (Dimension::Node, n.to_string())));
        values
    }
}

/// The facet value of a grade.
pub fn grade_key(class: &str, level: u8) -> String {
    format!("{class}-{level}")
}

/// A search request. Empty text browses (newest publications first); filters narrow by facet value.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    pub text: String,
    pub filters: BTreeMap<Dimension, String>,
    pub offset: usize,
    pub limit: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct FacetCount {
    pub value: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SearchResults {
    /// How many entries match in all (not only on this page).
    pub total: usize,
    pub hits: Vec<SearchDoc>,
    /// For each dimension, the values among the matching entries with their counts, most frequent first.
    pub facets: BTreeMap<Dimension, Vec<FacetCount>>,
}

#[derive(Debug, Clone, Copy)]
struct Fields {
    id: Field,
    name: Field,
    code: Field,
    summary: Field,
    items: Field,
    grams: Field,
    facets: Field,
    published_at: Field,
    doc: Field,
}

/// A word of a query, with the synonyms it also matches as.
#[derive(Debug, Clone)]
struct Word {
    text: String,
    aliases: Vec<String>,
}

const JIEBA: &str = "jieba";
const BIGRAM: &str = "cjk_bigram";

/// The catalog search index.
pub struct CatalogIndex {
    reader: IndexReader,
    fields: Fields,
    /// The writer and, beside it, the version of every entry the index holds (for reconciliation).
    writer: Mutex<(IndexWriter, HashMap<EntryId, u32>)>,
    jieba: TextAnalyzer,
}

impl std::fmt::Debug for CatalogIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogIndex").field("docs", &self.reader.searcher().num_docs()).finish()
    }
}

fn text_options(tokenizer: &str, stored: bool) -> TextOptions {
    let indexing = TextFieldIndexing::default()
        .set_tokenizer(tokenizer)
        .set_index_option(IndexRecordOption::WithFreqsAndPositions);
    let options = TextOptions::default().set_indexing_options(indexing);
    if stored { options.set_stored() } else { options }
}

fn jieba_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(tantivy_jieba::JiebaTokenizer::new()).filter(LowerCaser).build()
}

impl CatalogIndex {
    /// An empty index in memory.
    pub fn in_memory() -> Result<CatalogIndex> {
        let mut schema = Schema::builder();
        let fields = Fields {
            id: schema.add_text_field("id", STRING),
            name: schema.add_text_field("name", text_options(JIEBA, false)),
            code: schema.add_text_field("code", STRING),
            summary: schema.add_text_field("summary", text_options(JIEBA, false)),
            items: schema.add_text_field("items", text_options(JIEBA, false)),
            grams: schema.add_text_field("grams", text_options(BIGRAM, false)),
            facets: schema.add_facet_field("facets", FacetOptions::default()),
            published_at: schema.add_i64_field("published_at", FAST),
            doc: schema.add_text_field("doc", STORED),
        };
        let index = Index::create_in_ram(schema.build());
        index.tokenizers().register(JIEBA, jieba_analyzer());
        index.tokenizers().register(BIGRAM, TextAnalyzer::builder(BigramTokenizer).filter(LowerCaser).build());
        let writer = index.writer_with_num_threads(1, 64 * 1024 * 1024)?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        Ok(CatalogIndex { reader, fields, writer: Mutex::new((writer, HashMap::new())), jieba: jieba_analyzer() })
    }

    fn document(&self, doc: &SearchDoc) -> TantivyDocument {
        let f = self.fields;
        let mut d = TantivyDocument::new();
        d.add_text(f.id, doc.id.to_string());
        d.add_text(f.name, &doc.name);
        d.add_text(f.code, doc.resource_code.to_lowercase());
        d.add_text(f.summary, &doc.summary);
        for (name, code) in &doc.items {
            d.add_text(f.items, name);
            d.add_text(f.items, code);
        }
        d.add_text(f.grams, &doc.name);
        d.add_text(f.grams, &doc.summary);
        for (name, _) in &doc.items {
            d.add_text(f.grams, name);
        }
        for (dimension, value) in doc.facet_values() {
            d.add_facet(f.facets, dimension.facet(&value));
        }
        d.add_i64(f.published_at, doc.published_at.timestamp_micros());
        d.add_text(f.doc, serde_json::to_string(doc).unwrap_or_default());
        d
    }

    /// Adds or replaces these entries' documents, and removes `removed`; visible to searches when this returns.
    pub fn apply(&self, upserts: &[SearchDoc], removed: &[EntryId]) -> Result<()> {
        let mut guard = self.writer.lock().map_err(|_| SearchError::Poisoned)?;
        let (writer, versions) = &mut *guard;
        for id in removed.iter().chain(upserts.iter().map(|d| &d.id)) {
            writer.delete_term(Term::from_field_text(self.fields.id, &id.to_string()));
        }
        for doc in upserts {
            writer.add_document(self.document(doc))?;
        }
        writer.commit()?;
        for id in removed {
            versions.remove(id);
        }
        for doc in upserts {
            versions.insert(doc.id, doc.version);
        }
        self.reader.reload()?;
        Ok(())
    }

    /// Replaces the whole content of the index.
    pub fn rebuild(&self, docs: impl IntoIterator<Item = SearchDoc>) -> Result<usize> {
        let mut guard = self.writer.lock().map_err(|_| SearchError::Poisoned)?;
        let (writer, versions) = &mut *guard;
        writer.delete_all_documents()?;
        versions.clear();
        for doc in docs {
            writer.add_document(self.document(&doc))?;
            versions.insert(doc.id, doc.version);
        }
        writer.commit()?;
        self.reader.reload()?;
        Ok(versions.len())
    }

    /// The published version the index holds for each entry.
    pub fn versions(&self) -> Result<HashMap<EntryId, u32>> {
        Ok(self.writer.lock().map_err(|_| SearchError::Poisoned)?.1.clone())
    }

    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The words of a query: whitespace-separated segments, each cut by jieba — except a segment that is a data
    /// item's name with synonyms (`govshare_domain::source::search_aliases`), which stays one word. Each word comes
    /// with the synonyms it also matches as (the same knowledge as the duplicate-collection check).
    fn words(&self, text: &str) -> Vec<Word> {
        let mut analyzer = self.jieba.clone();
        let mut words: Vec<Word> = Vec::new();
        let mut push = |text: &str, aliases: Vec<String>| {
            if !text.is_empty() && text.chars().any(char::is_alphanumeric) && !words.iter().any(|w| w.text == text) {
                words.push(Word { text: text.to_owned(), aliases });
            }
        };
        for segment in text.split_whitespace() {
            let aliases = search_aliases(segment);
            if !aliases.is_empty() {
                push(&segment.to_lowercase(), aliases);
                continue;
            }
            let mut stream = analyzer.token_stream(segment);
            while let Some(token) = stream.next() {
                let word = token.text.trim();
                push(word, search_aliases(word));
            }
        }
        // jieba's search mode also emits the parts of long words; the longest forms suffice as requirements,
        // because a part always matches where its whole does (with or without the part's synonyms).
        let all: Vec<String> = words.iter().map(|w| w.text.clone()).collect();
        words.retain(|w| !all.iter().any(|other| *other != w.text && other.contains(w.text.as_str())));
        words
    }

    /// A word matches as itself or as any of its synonyms.
    fn synonym_query(&self, word: &Word) -> Box<dyn Query> {
        if word.aliases.is_empty() {
            return self.word_query(&word.text);
        }
        let clauses = std::iter::once(&word.text)
            .chain(&word.aliases)
            .map(|w| (Occur::Should, self.word_query(w)))
            .collect::<Vec<_>>();
        Box::new(BooleanQuery::new(clauses))
    }

    fn word_query(&self, word: &str) -> Box<dyn Query> {
        let f = self.fields;
        let term = |field: Field, boost: f32| -> (Occur, Box<dyn Query>) {
            let query = TermQuery::new(Term::from_field_text(field, word), IndexRecordOption::WithFreqs);
            (Occur::Should, Box::new(BoostQuery::new(Box::new(query), boost)))
        };
        let mut clauses = vec![term(f.name, 3.0), term(f.items, 1.5), term(f.summary, 1.0), term(f.code, 5.0)];
        let grams: Vec<Term> = bigram::grams(word).into_iter().map(|g| Term::from_field_text(f.grams, &g)).collect();
        match grams.len() {
            0 => {}
            1 => clauses.push((
                Occur::Should,
                Box::new(TermQuery::new(grams[0].clone(), IndexRecordOption::WithFreqs)) as Box<dyn Query>,
            )),
            _ => clauses.push((Occur::Should, Box::new(PhraseQuery::new(grams)))),
        }
        Box::new(BooleanQuery::new(clauses))
    }

    fn query(&self, words: &[Word], q: &SearchQuery) -> Box<dyn Query> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> =
            words.iter().map(|w| (Occur::Must, self.synonym_query(w))).collect();
        for (dimension, value) in &q.filters {
            let term = Term::from_facet(self.fields.facets, &dimension.facet(value));
            clauses.push((Occur::Must, Box::new(TermQuery::new(term, IndexRecordOption::Basic))));
        }
        if clauses.is_empty() {
            return Box::new(AllQuery);
        }
        Box::new(BooleanQuery::new(clauses))
    }

    pub fn search(&self, q: &SearchQuery) -> Result<SearchResults> {
        let searcher = self.reader.searcher();
        let limit = q.limit.clamp(1, 200);
        let words = self.words(&q.text);
        let query = self.query(&words, q);
        let mut facets = FacetCollector::for_field("facets");
        for dimension in Dimension::ALL {
            facets.add_facet(dimension.root());
        }
        let top = TopDocs::with_limit(limit).and_offset(q.offset);
        let (addresses, total, counts): (Vec<DocAddress>, usize, _) = if words.is_empty() {
            let collector = (top.order_by_fast_field::<i64>("published_at", Order::Desc), Count, facets);
            let (docs, total, counts) = searcher.search(&query, &collector)?;
            (docs.into_iter().map(|(_, a)| a).collect(), total, counts)
        } else {
            let collector = (top.order_by_score(), Count, facets);
            let (docs, total, counts) = searcher.search(&query, &collector)?;
            (docs.into_iter().map(|(_, a)| a).collect(), total, counts)
        };
        let mut hits = Vec::with_capacity(addresses.len());
        for address in addresses {
            let stored: TantivyDocument = searcher.doc(address)?;
            if let Some(doc) = stored.get_first(self.fields.doc).and_then(|v| v.as_str())
                && let Ok(doc) = serde_json::from_str::<SearchDoc>(doc)
            {
                hits.push(doc);
            }
        }
        let mut by_dimension = BTreeMap::new();
        for dimension in Dimension::ALL {
            let mut values: Vec<FacetCount> = counts
                .get(dimension.root())
                .map(|(facet, count)| FacetCount {
                    value: facet.to_path().last().map(|s| (*s).to_owned()).unwrap_or_default(),
                    count,
                })
                .collect();
            values.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
            by_dimension.insert(dimension, values);
        }
        Ok(SearchResults { total, hits, facets: by_dimension })
    }
}

#[cfg(test)]
mod tests;
