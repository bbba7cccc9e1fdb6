//! The message loop. Changes to documents only mark them dirty; once no message is waiting (or
//! before any request is answered) every dirty script is analysed once and its diagnostics
//! are pushed, so a burst of keystrokes costs one analysis.

use crate::completion::{self, CandidateKind};
use crate::convert;
use crate::documents::{path_to_uri, uri_to_path, Documents};
use crate::hover;
use crate::index::{Kind, Occurrence};
use crate::lines::LineIndex;
use crate::live::Live;
use crate::samples::Fields;
use crate::workspace::{root_of, Analysis};
use crate::{Error, Options};
use acteon_dsl::source::SourceMap;
use acteon_dsl::{fmt, syntax};
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, DidSaveTextDocument,
    Notification as _, PublishDiagnostics,
};
use lsp_types::request::{
    CodeActionRequest, Completion, Formatting, GotoDefinition, HoverRequest, References,
    Request as _,
};
use lsp_types::{
    CodeActionKind, CodeActionOptions, CodeActionOrCommand, CodeActionParams,
    CodeActionProviderCapability, CompletionItem, CompletionItemKind, CompletionOptions,
    CompletionParams, CompletionResponse, DidChangeTextDocumentParams, DidCloseTextDocumentParams,
    DidOpenTextDocumentParams, DidSaveTextDocumentParams, DocumentFormattingParams,
    GotoDefinitionParams, GotoDefinitionResponse, Hover, HoverContents, HoverParams,
    HoverProviderCapability, Location, MarkupContent, MarkupKind, OneOf, Position,
    PublishDiagnosticsParams, Range, ReferenceParams, ServerCapabilities,
    TextDocumentPositionParams, TextDocumentSyncCapability, TextDocumentSyncKind, TextEdit, Uri,
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// Runs the protocol on `connection` until the editor shuts the server down.
pub fn serve(connection: Connection, options: Options) -> Result<(), Error> {
    let mut server = Server::new(&connection, &options)?;
    let (id, _params) = connection.initialize_start()?;
    let answer = serde_json::json!({
        "capabilities": capabilities(),
        "serverInfo": { "name": "acteon", "version": env!("CARGO_PKG_VERSION") },
    });
    connection.initialize_finish(id, answer)?;
    for message in &connection.receiver {
        match message {
            Message::Request(request) => {
                if connection.handle_shutdown(&request)? {
                    return Ok(());
                }
                server.flush()?;
                let response = server.request(request);
                server.send(response.into())?;
            }
            Message::Notification(notification) => {
                server.notification(notification);
                if connection.receiver.is_empty() {
                    server.flush()?;
                }
            }
            Message::Response(_) => {}
        }
    }
    Ok(())
}

fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![".".into(), " ".into()]),
            ..CompletionOptions::default()
        }),
        document_formatting_provider: Some(OneOf::Left(true)),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
            ..CodeActionOptions::default()
        })),
        ..ServerCapabilities::default()
    }
}

struct Server<'c> {
    connection: &'c Connection,
    documents: Documents,
    /// By root.
    analyses: HashMap<PathBuf, Analysis>,
    /// The sample fields merged with those of each root's tests.
    fields: HashMap<PathBuf, Fields>,
    /// The root of each document that was analysed.
    roots: HashMap<PathBuf, PathBuf>,
    /// Every file diagnostics were published for, with the root that published them.
    published: HashMap<PathBuf, PathBuf>,
    dirty: BTreeSet<PathBuf>,
    sample: Fields,
    live: Option<Live>,
}

impl<'c> Server<'c> {
    fn new(connection: &'c Connection, options: &Options) -> Result<Server<'c>, Error> {
        let sample = match &options.sample {
            Some(path) => {
                Fields::from_json_lines(path).map_err(|e| Error::Sample(path.clone(), e))?
            }
            None => Fields::default(),
        };
        let live = match &options.server {
            Some(url) => Some(Live::new(url, options.api_key.clone())?),
            None => None,
        };
        Ok(Server {
            connection,
            documents: Documents::default(),
            analyses: HashMap::new(),
            fields: HashMap::new(),
            roots: HashMap::new(),
            published: HashMap::new(),
            dirty: BTreeSet::new(),
            sample,
            live,
        })
    }

    fn send(&self, message: Message) -> Result<(), Error> {
        self.connection.sender.send(message).map_err(|_| {
            Error::Io(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the editor closed the connection",
            ))
        })
    }

    fn notification(&mut self, notification: Notification) {
        let method = notification.method.as_str();
        match method {
            DidOpenTextDocument::METHOD => {
                if let Some(p) = params::<DidOpenTextDocumentParams>(notification.params) {
                    self.changed(&p.text_document.uri, Some(p.text_document.text));
                }
            }
            DidChangeTextDocument::METHOD => {
                if let Some(p) = params::<DidChangeTextDocumentParams>(notification.params) {
                    // Full synchronisation: the last change holds the whole text.
                    let text = p.content_changes.into_iter().last().map(|c| c.text);
                    self.changed(&p.text_document.uri, text);
                }
            }
            DidSaveTextDocument::METHOD => {
                if let Some(p) = params::<DidSaveTextDocumentParams>(notification.params) {
                    self.changed(&p.text_document.uri, p.text);
                }
            }
            DidCloseTextDocument::METHOD => {
                if let Some(p) = params::<DidCloseTextDocumentParams>(notification.params) {
                    if let Some(path) = uri_to_path(&p.text_document.uri) {
                        self.documents.close(&path);
                        self.dirty.insert(path);
                    }
                }
            }
            _ => {}
        }
    }

    fn changed(&mut self, uri: &Uri, text: Option<String>) {
        let Some(path) = uri_to_path(uri) else { return };
        if let Some(text) = text {
            self.documents.open(path.clone(), text);
        }
        self.dirty.insert(path);
    }

    /// Analyses every script a dirty document belongs to, and publishes its diagnostics.
    fn flush(&mut self) -> Result<(), Error> {
        let mut roots = BTreeSet::new();
        for document in std::mem::take(&mut self.dirty) {
            let root = root_of(&document, &self.documents);
            roots.insert(root.clone());
            // The script the document belonged to before may have lost it.
            if let Some(old) = self.roots.insert(document, root) {
                roots.insert(old);
            }
        }
        for root in roots {
            let analysis = Analysis::new(&root, &self.documents);
            let mut fields = self.sample.clone();
            fields.merge(&Fields::from_tests(&analysis.compiled.program));
            self.publish(&analysis)?;
            self.fields.insert(root.clone(), fields);
            self.analyses.insert(root, analysis);
        }
        Ok(())
    }

    fn publish(&mut self, analysis: &Analysis) -> Result<(), Error> {
        let by_file = convert::diagnostics(analysis);
        let stale: Vec<PathBuf> = self
            .published
            .iter()
            .filter(|(file, root)| **root == analysis.root && !by_file.contains_key(file.as_path()))
            .map(|(file, _)| file.clone())
            .collect();
        for file in stale {
            self.published.remove(&file);
            self.push_diagnostics(&file, Vec::new())?;
        }
        for (file, diagnostics) in by_file {
            self.published
                .insert(file.to_path_buf(), analysis.root.clone());
            self.push_diagnostics(file, diagnostics)?;
        }
        Ok(())
    }

    fn push_diagnostics(
        &self,
        file: &Path,
        diagnostics: Vec<lsp_types::Diagnostic>,
    ) -> Result<(), Error> {
        let params = PublishDiagnosticsParams::new(path_to_uri(file), diagnostics, None);
        let notification = Notification::new(PublishDiagnostics::METHOD.to_string(), params);
        self.send(notification.into())
    }

    fn request(&mut self, request: Request) -> Response {
        let id = request.id.clone();
        let result = match request.method.as_str() {
            GotoDefinition::METHOD => self.definition(params(request.params)),
            References::METHOD => self.references(params(request.params)),
            HoverRequest::METHOD => self.hover(params(request.params)),
            Completion::METHOD => self.completion(params(request.params)),
            Formatting::METHOD => self.formatting(params(request.params)),
            CodeActionRequest::METHOD => self.code_actions(params(request.params)),
            other => {
                return Response::new_err(
                    id,
                    ErrorCode::MethodNotFound as i32,
                    format!("`{other}` is not supported"),
                )
            }
        };
        match result {
            Ok(value) => Response::new_ok(id, value),
            Err(message) => invalid(id, message),
        }
    }

    fn definition(&self, p: Option<GotoDefinitionParams>) -> Result<Value, String> {
        let p = p.ok_or("bad parameters")?;
        let at = &p.text_document_position_params;
        let Some((analysis, _, occurrence)) = occurrence_at(&self.analyses, &self.roots, at) else {
            return Ok(Value::Null);
        };
        let location = if occurrence.kind == Kind::Include {
            occurrence
                .target
                .map(|target| Location::new(path_to_uri(analysis.path(target)), Range::default()))
        } else {
            analysis
                .index
                .declaration(occurrence)
                .map(|d| location(analysis, d.file, &d.span))
        };
        Ok(match location {
            Some(l) => to_value(GotoDefinitionResponse::Scalar(l)),
            None => Value::Null,
        })
    }

    fn references(&self, p: Option<ReferenceParams>) -> Result<Value, String> {
        let p = p.ok_or("bad parameters")?;
        let at = &p.text_document_position;
        let Some((analysis, _, occurrence)) = occurrence_at(&self.analyses, &self.roots, at) else {
            return Ok(Value::Null);
        };
        let locations: Vec<Location> = analysis
            .index
            .references(occurrence, p.context.include_declaration)
            .map(|o| location(analysis, o.file, &o.span))
            .collect();
        Ok(to_value(locations))
    }

    fn hover(&mut self, p: Option<HoverParams>) -> Result<Value, String> {
        let p = p.ok_or("bad parameters")?;
        let at = &p.text_document_position_params;
        let Some((analysis, file, occurrence)) = occurrence_at(&self.analyses, &self.roots, at)
        else {
            return Ok(Value::Null);
        };
        let range = LineIndex::new(analysis.text(file)).range(&occurrence.span);
        let text = hover::hover(analysis, occurrence, self.live.as_mut());
        Ok(to_value(Hover {
            contents: HoverContents::Markup(MarkupContent {
                kind: MarkupKind::Markdown,
                value: text,
            }),
            range: Some(range),
        }))
    }

    fn completion(&self, p: Option<CompletionParams>) -> Result<Value, String> {
        let p = p.ok_or("bad parameters")?;
        let at = &p.text_document_position;
        let Some(path) = uri_to_path(&at.text_document.uri) else {
            return Ok(Value::Null);
        };
        let text = self.documents.read(&path).unwrap_or_default();
        let index = LineIndex::new(&text);
        let offset = index.offset(at.position);
        let root = self.roots.get(&path);
        let analysis = root.and_then(|r| self.analyses.get(r));
        let empty = Fields::default();
        let fields = root.and_then(|r| self.fields.get(r)).unwrap_or(&empty);
        let items: Vec<CompletionItem> = completion::complete(&text, offset, analysis, fields)
            .into_iter()
            .map(|c| CompletionItem {
                kind: Some(match c.kind {
                    CandidateKind::Keyword => CompletionItemKind::KEYWORD,
                    CandidateKind::Field => CompletionItemKind::FIELD,
                    CandidateKind::Provider => CompletionItemKind::MODULE,
                    CandidateKind::Chain => CompletionItemKind::FUNCTION,
                    CandidateKind::Step => CompletionItemKind::METHOD,
                    CandidateKind::Rule => CompletionItemKind::EVENT,
                    CandidateKind::Setting => CompletionItemKind::PROPERTY,
                    CandidateKind::Value => CompletionItemKind::ENUM_MEMBER,
                }),
                detail: c.detail,
                text_edit: Some(lsp_types::CompletionTextEdit::Edit(TextEdit::new(
                    index.range(&c.replaces),
                    c.label.clone(),
                ))),
                label: c.label,
                ..CompletionItem::default()
            })
            .collect();
        Ok(to_value(CompletionResponse::Array(items)))
    }

    /// `acteon fmt`'s layout, as one edit of the whole document; nothing for a document that
    /// does not parse.
    fn formatting(&self, p: Option<DocumentFormattingParams>) -> Result<Value, String> {
        let p = p.ok_or("bad parameters")?;
        let Some(path) = uri_to_path(&p.text_document.uri) else {
            return Ok(Value::Null);
        };
        let text = self.documents.read(&path).map_err(|e| e.to_string())?;
        let mut sources = SourceMap::default();
        let id = sources.add(path.clone(), text.clone());
        let Ok(file) = syntax::parse(id, &path, &text) else {
            return Ok(Value::Null);
        };
        let formatted = fmt::format(&file, &text);
        if formatted == text {
            return Ok(to_value(Vec::<TextEdit>::new()));
        }
        let whole = Range::new(
            Position::new(0, 0),
            LineIndex::new(&text).position(text.len()),
        );
        Ok(to_value(vec![TextEdit::new(whole, formatted)]))
    }

    fn code_actions(&self, p: Option<CodeActionParams>) -> Result<Value, String> {
        let p = p.ok_or("bad parameters")?;
        let Some(path) = uri_to_path(&p.text_document.uri) else {
            return Ok(Value::Null);
        };
        let Some(analysis) = self.roots.get(&path).and_then(|r| self.analyses.get(r)) else {
            return Ok(Value::Null);
        };
        let Some(file) = analysis.file_id(&path) else {
            return Ok(Value::Null);
        };
        let lines = LineIndex::new(analysis.text(file));
        let range = lines.offset(p.range.start)..lines.offset(p.range.end);
        let actions: Vec<CodeActionOrCommand> = convert::code_actions(analysis, &path, range)
            .into_iter()
            .map(CodeActionOrCommand::CodeAction)
            .collect();
        Ok(to_value(actions))
    }
}

/// The analysis a document is in, the document's file in it, and the name under a position.
fn occurrence_at<'a>(
    analyses: &'a HashMap<PathBuf, Analysis>,
    roots: &HashMap<PathBuf, PathBuf>,
    at: &TextDocumentPositionParams,
) -> Option<(&'a Analysis, acteon_dsl::source::FileId, &'a Occurrence)> {
    let path = uri_to_path(&at.text_document.uri)?;
    let analysis = analyses.get(roots.get(&path)?)?;
    let file = analysis.file_id(&path)?;
    let offset = LineIndex::new(analysis.text(file)).offset(at.position);
    let occurrence = analysis.index.at(file, offset)?;
    Some((analysis, file, occurrence))
}

fn location(
    analysis: &Analysis,
    file: acteon_dsl::source::FileId,
    span: &std::ops::Range<usize>,
) -> Location {
    let range = LineIndex::new(analysis.text(file)).range(span);
    Location::new(path_to_uri(analysis.path(file)), range)
}

fn params<P: DeserializeOwned>(value: Value) -> Option<P> {
    serde_json::from_value(value).ok()
}

fn to_value(value: impl serde::Serialize) -> Value {
    serde_json::to_value(value).expect("protocol types serialise")
}

fn invalid(id: RequestId, message: String) -> Response {
    Response::new_err(id, ErrorCode::InvalidParams as i32, message)
}
