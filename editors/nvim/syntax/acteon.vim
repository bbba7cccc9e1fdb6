" Vim syntax for the .acteon rule language. The keywords are those of grammar/acteon.pest;
" lsp/tests/textmate.rs fails when they differ.
if exists("b:current_syntax")
  finish
endif

" Names may hold `-`: `allow-remaining` is a name, not the keyword `allow`.
setlocal iskeyword=@,48-57,_,-

syntax keyword acteonDeclaration scope include source table provider rule chain step breakers breaker quota retention recurring audit background test
syntax keyword acteonKeyword priority when then if next timeout call calls run retry backoff on_failure expect action input at namespace tenant kafka file stdin key from
syntax keyword acteonOperatorWord or and not in starts_with ends_with matches exists
" `contains` is also an argument of :syntax keyword, so it is matched instead.
syntax match acteonOperatorWord "\<contains\>"
syntax keyword acteonVerdict suppress deny allow reroute modify dedup within by throttle per group wait max to schedule after abort skip dlq block warn

syntax match acteonComment "#.*$"
syntax region acteonString start=/"/ skip=/\\./ end=/"/ contains=acteonTemplate
syntax match acteonTemplate "{{[^}]*}}" contained
syntax match acteonRegex "/\(\\.\|[^/\\]\)*/"
syntax match acteonDuration "\<[0-9]\+\(ms\|s\|m\|h\|d\)\>"
syntax match acteonNumber "\<-\?[0-9]\+\(\.[0-9]\+\)\?\>"
syntax keyword acteonConstant true false null
syntax match acteonAttribute "@[A-Za-z_][A-Za-z0-9_-]*"
syntax match acteonOperator "??\|==\|!=\|<=\|>=\|<\|>"

highlight default link acteonDeclaration Statement
highlight default link acteonKeyword Keyword
highlight default link acteonOperatorWord Operator
highlight default link acteonVerdict Function
highlight default link acteonComment Comment
highlight default link acteonString String
highlight default link acteonTemplate Special
highlight default link acteonRegex String
highlight default link acteonDuration Number
highlight default link acteonNumber Number
highlight default link acteonConstant Constant
highlight default link acteonAttribute PreProc
highlight default link acteonOperator Operator

let b:current_syntax = "acteon"
