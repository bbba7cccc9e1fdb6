//! An editor's side of the protocol, for tests: typed requests and notifications, diagnostics
//! collected as they are published, every wait bounded. It drives the server in process (over
//! `lsp_server`'s in-memory connection) or `acteon lsp` as a child process over stdio; the
//! `acteon` binary's tests include this file too.

#![allow(dead_code)]

use lsp_server::{Message, Notification, Request, RequestId};
use lsp_types::notification::Notification as NotificationTrait;
use lsp_types::request::Request as RequestTrait;
use lsp_types::{
    CompletionParams, CompletionResponse, Diagnostic, DocumentFormattingParams, FormattingOptions,
    GotoDefinitionParams, GotoDefinitionResponse, HoverContents, HoverParams, Position,
    PublishDiagnosticsParams, Uri,
};
use std::collections::HashMap;
use std::io::BufReader;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// How long any one answer may take.
pub const WAIT: Duration = Duration::from_secs(20);

type SendFn = Box<dyn FnMut(Message)>;
type ReceiveFn = Box<dyn FnMut(Duration) -> Option<Message>>;

pub struct Client {
    send: SendFn,
    receive: ReceiveFn,
    next_id: i32,
    /// The latest diagnostics published for each document.
    pub diagnostics: HashMap<String, Vec<Diagnostic>>,
    /// How many times diagnostics were published, to wait for a fresh set.
    publications: usize,
    child: Option<Child>,
}

impl Client {
    /// The server side runs in a thread of this process.
    pub fn in_process(connection: lsp_server::Connection) -> Client {
        let sender = connection.sender.clone();
        let receiver = connection.receiver;
        Client::new(
            Box::new(move |m| sender.send(m).expect("the server is running")),
            Box::new(move |wait| receiver.recv_timeout(wait).ok()),
            None,
        )
    }

    /// `command` (e.g. `acteon lsp`) as a child process speaking on its stdin and stdout.
    pub fn spawn(mut command: Command) -> Client {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the language server starts");
        let mut stdin: ChildStdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            while let Ok(Some(message)) = Message::read(&mut reader) {
                if tx.send(message).is_err() {
                    break;
                }
            }
        });
        Client::new(
            Box::new(move |m: Message| m.write(&mut stdin).expect("the server reads stdin")),
            Box::new(move |wait| rx.recv_timeout(wait).ok()),
            Some(child),
        )
    }

    fn new(send: SendFn, receive: ReceiveFn, child: Option<Child>) -> Client {
        Client {
            send,
            receive,
            next_id: 0,
            diagnostics: HashMap::new(),
            publications: 0,
            child,
        }
    }

    /// `initialize` and `initialized`; the server's answer to `initialize`.
    pub fn initialize(&mut self) -> lsp_types::InitializeResult {
        let params = lsp_types::InitializeParams::default();
        let result = self.request::<lsp_types::request::Initialize>(params);
        self.notify::<lsp_types::notification::Initialized>(lsp_types::InitializedParams {});
        result
    }

    pub fn notify<N: NotificationTrait>(&mut self, params: N::Params) {
        (self.send)(Notification::new(N::METHOD.to_string(), params).into());
    }

    pub fn request<R: RequestTrait>(&mut self, params: R::Params) -> R::Result {
        self.next_id += 1;
        let id = RequestId::from(self.next_id);
        (self.send)(Request::new(id.clone(), R::METHOD.to_string(), params).into());
        let deadline = Instant::now() + WAIT;
        loop {
            match self.next(deadline) {
                Message::Response(response) if response.id == id => {
                    let value = match response.response_result {
                        Ok(value) => value,
                        Err(error) => panic!("{} failed: {}", R::METHOD, error.message),
                    };
                    return serde_json::from_value(value).expect("a well-formed result");
                }
                _ => {}
            }
        }
    }

    /// The next message; publications of diagnostics are recorded on the way.
    fn next(&mut self, deadline: Instant) -> Message {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = (self.receive)(left).expect("the server answered in time");
        if let Message::Notification(n) = &message {
            if n.method == lsp_types::notification::PublishDiagnostics::METHOD {
                let params: PublishDiagnosticsParams =
                    serde_json::from_value(n.params.clone()).expect("diagnostics");
                self.diagnostics
                    .insert(params.uri.as_str().to_string(), params.diagnostics);
                self.publications += 1;
            }
        }
        message
    }

    /// Sends a notification that changes documents, then waits until diagnostics have been
    /// published for `uri` after it.
    pub fn change_and_wait<N: NotificationTrait>(
        &mut self,
        params: N::Params,
        uri: &Uri,
    ) -> Vec<Diagnostic> {
        self.diagnostics.remove(uri.as_str());
        self.notify::<N>(params);
        let deadline = Instant::now() + WAIT;
        while !self.diagnostics.contains_key(uri.as_str()) {
            self.next(deadline);
        }
        self.diagnostics[uri.as_str()].clone()
    }

    /// `shutdown` and `exit`; waits for a child process to end.
    pub fn shutdown(mut self) {
        self.request::<lsp_types::request::Shutdown>(());
        self.notify::<lsp_types::notification::Exit>(());
        if let Some(mut child) = self.child.take() {
            let deadline = Instant::now() + WAIT;
            loop {
                if let Some(status) = child.try_wait().expect("the child can be waited on") {
                    assert!(status.success(), "acteon lsp exited with {status}");
                    break;
                }
                assert!(Instant::now() < deadline, "acteon lsp did not exit");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The requests the tests make most, typed.
impl Client {
    pub fn definition(&mut self, uri: &Uri, position: Position) -> Option<lsp_types::Location> {
        let answer = self.request::<lsp_types::request::GotoDefinition>(GotoDefinitionParams {
            text_document_position_params: at::point(uri, position),
            work_done_progress_params: Default::default(),
            partial_result_params: Default::default(),
        });
        match answer {
            None => None,
            Some(GotoDefinitionResponse::Scalar(location)) => Some(location),
            Some(other) => panic!("one location, not {other:?}"),
        }
    }

    /// The hover's Markdown.
    pub fn hover(&mut self, uri: &Uri, position: Position) -> String {
        let hover = self
            .request::<lsp_types::request::HoverRequest>(HoverParams {
                text_document_position_params: at::point(uri, position),
                work_done_progress_params: Default::default(),
            })
            .expect("a hover");
        match hover.contents {
            HoverContents::Markup(markup) => markup.value,
            other => panic!("Markdown, not {other:?}"),
        }
    }

    /// The labels of the completion items.
    pub fn completion(&mut self, uri: &Uri, position: Position) -> Vec<String> {
        let answer = self.request::<lsp_types::request::Completion>(CompletionParams {
            text_document_position: at::point(uri, position),
            work_done_progress_params: Default::default(),
            partial_result_params: Default::default(),
            context: None,
        });
        match answer {
            Some(CompletionResponse::Array(items)) => items.into_iter().map(|i| i.label).collect(),
            other => panic!("a list, not {other:?}"),
        }
    }

    pub fn formatting(&mut self, uri: &Uri) -> Vec<lsp_types::TextEdit> {
        self.request::<lsp_types::request::Formatting>(DocumentFormattingParams {
            text_document: lsp_types::TextDocumentIdentifier::new(uri.clone()),
            options: FormattingOptions::default(),
            work_done_progress_params: Default::default(),
        })
        .expect("edits")
    }
}

/// Helpers to build requests about one document.
pub mod at {
    use lsp_types::{
        Position, TextDocumentIdentifier, TextDocumentItem, TextDocumentPositionParams, Uri,
    };

    pub fn open(uri: &Uri, text: &str) -> lsp_types::DidOpenTextDocumentParams {
        lsp_types::DidOpenTextDocumentParams {
            text_document: TextDocumentItem::new(uri.clone(), "acteon".into(), 1, text.into()),
        }
    }

    pub fn change(uri: &Uri, version: i32, text: &str) -> lsp_types::DidChangeTextDocumentParams {
        lsp_types::DidChangeTextDocumentParams {
            text_document: lsp_types::VersionedTextDocumentIdentifier::new(uri.clone(), version),
            content_changes: vec![lsp_types::TextDocumentContentChangeEvent {
                range: None,
                range_length: None,
                text: text.into(),
            }],
        }
    }

    /// The position of the `nth` occurrence of `needle` in `text`, plus `within` characters.
    pub fn position(text: &str, needle: &str, nth: usize, within: u32) -> Position {
        let offset = text
            .match_indices(needle)
            .nth(nth)
            .unwrap_or_else(|| panic!("`{needle}` is in the text"))
            .0;
        let line = text[..offset].matches('\n').count() as u32;
        let column = text[..offset].rsplit('\n').next().unwrap().chars().count() as u32;
        Position::new(line, column + within)
    }

    pub fn point(uri: &Uri, position: Position) -> TextDocumentPositionParams {
        TextDocumentPositionParams::new(TextDocumentIdentifier::new(uri.clone()), position)
    }
}
