"""The model's two roles in the search: as programmer it writes candidates (each a new
`Node`), as critic it reviews them; every call is counted against the budget."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeGuard

from . import prompts
from .budget import Budget, BudgetExhausted, PartialExpansion
from .cancel import CancelToken
from .config import SearchConfig
from .extract import Candidate, extract_candidate
from .model.base import ChatModel, ChatRequest, Completion, ConcurrentChatModel, Message, chat_once
from .report import Node, SearchStats
from .scoring import parse_critique
from .source import FunctionInfo


def _concurrent(model: ChatModel) -> TypeGuard[ConcurrentChatModel]:
    """A backend with free parallel slots (it generates a node's children as one batch)."""
    return bool(getattr(model, "max_parallel", 1) > 1 and hasattr(model, "chat_many"))


def _comment_reasoning(code: str) -> str:
    """The model writes its plan as comments in the body (the answer is prefilled)."""
    comments = [line.strip()[1:].strip() for line in code.splitlines() if line.strip().startswith("#")]
    return " ".join(comments)[:600]


class ModelCalls:
    """The search's conversations with the model. New nodes go into `nodes` (in the order they
    were generated, their ids their index) and their parsed candidates into `candidates`;
    `generated` is told of each."""

    def __init__(
        self,
        model: ChatModel,
        function: FunctionInfo,
        config: SearchConfig,
        stats: SearchStats,
        budget: Budget,
        cancel: CancelToken,
        *,
        nodes: list[Node],
        candidates: dict[int, Candidate],
        generated: Callable[[], None],
    ) -> None:
        self.model = model
        self.function = function
        self.config = config
        self.stats = stats
        self.budget = budget
        self.cancel = cancel
        self.nodes = nodes
        self.candidates = candidates
        self._generated = generated

    def _request(
        self, messages: list[Message], *, prefill: str, max_tokens: int, temperature: float, stop: list[str], index: int = 0
    ) -> ChatRequest:
        remaining = self.config.max_generated_tokens - self.stats.generated_tokens
        return ChatRequest(
            messages=messages,
            prefill=prefill,
            max_tokens=max(16, min(max_tokens, remaining)),
            temperature=temperature,
            seed=self.config.seed + self.stats.llm_calls + index,  # reproducible, distinct per call
            stop=stop,
        )

    def _account(self, completion: Completion) -> None:
        s = self.stats
        s.llm_calls += 1
        s.prompt_tokens_sent += completion.prompt_tokens
        s.prompt_tokens_evaluated += completion.prompt_tokens_evaluated
        s.generated_tokens += completion.completion_tokens
        s.generation_seconds += completion.generation_seconds
        s.prompt_seconds += completion.prompt_seconds

    def _call(self, request: ChatRequest, upcoming_nodes: int = 0) -> Completion:
        self.budget.check(len(self.nodes), upcoming_nodes)
        completion = chat_once(self.model, request, self.cancel)
        self._account(completion)
        return completion

    # ------------------------------------------------------------------ programmer
    def _programmer_request(self, messages: list[Message], index: int = 0) -> ChatRequest:
        prefill = prompts.programmer_prefill(self.function) if self.config.prefill else ""
        return self._request(
            messages,
            prefill=prefill,
            max_tokens=self.config.max_code_tokens,
            temperature=self.config.temperature,
            stop=["\n```", "\nif __name__", "\n# Test", "\n# Example"],
            index=index,
        )

    def expand(self, parent: Node | None, conversations: list[tuple[list[Message], str]]) -> list[Node]:
        """Generate one child per (messages, strategy), within the budget.

        A backend with free parallel slots gets the children of a node as one
        batch; otherwise they are generated one by one, in order, so that the
        shared prompt prefix stays in the KV cache.
        """
        children: list[Node] = []
        self.budget.generation_begins()
        if _concurrent(self.model):
            self.budget.check(len(self.nodes), upcoming_nodes=len(conversations))
            room = self.config.max_llm_calls - self.stats.llm_calls
            batch = conversations[:room]
            requests = [self._programmer_request(messages, index) for index, (messages, _) in enumerate(batch)]
            completions = self.model.chat_many(requests, cancel=self.cancel)
            for request, completion, (_, strategy) in zip(requests, completions, batch):
                self._account(completion)
                children.append(self._node_from(request, completion, parent, strategy))
            if len(batch) < len(conversations):
                raise PartialExpansion(children, BudgetExhausted("budget:calls"))
            return children
        for messages, strategy in conversations:
            try:
                request = self._programmer_request(messages)
                completion = self._call(request, upcoming_nodes=1)
            except BudgetExhausted as exhausted:
                raise PartialExpansion(children, exhausted) from None
            children.append(self._node_from(request, completion, parent, strategy))
        return children

    def _node_from(self, request: ChatRequest, completion: Completion, parent: Node | None, strategy: str) -> Node:
        prefill = request.prefill
        text = prefill + completion.text
        if prefill and "```" not in completion.text:
            text += "\n```"
        candidate = extract_candidate(text, self.function)
        node = Node(
            id=len(self.nodes),
            parent=parent.id if parent else None,
            depth=parent.depth + 1 if parent else 0,
            strategy=strategy,
            reasoning=_comment_reasoning(candidate.definitions) or candidate.reasoning,
            code=candidate.code if candidate.ok else text,
            valid=candidate.ok,
            invalid_reason=candidate.error,
            llm_calls=1,
            generated_tokens=completion.completion_tokens,
        )
        self.candidates[node.id] = candidate
        self.nodes.append(node)
        self._generated()
        return node

    # ---------------------------------------------------------------------- critic
    def critique(self, context: prompts.TaskContext, node: Node) -> None:
        if not self.config.use_critic or not node.valid:
            return
        messages = prompts.critic(context, node.code, node.execution)
        completion = self._call(
            self._request(
                messages,
                prefill=prompts.CRITIC_PREFILL,
                max_tokens=self.config.max_critic_tokens,
                temperature=self.config.critic_temperature,
                stop=["\n\n\n"],
            )
        )
        node.critique = parse_critique(prompts.CRITIC_PREFILL + completion.text)
        node.llm_calls += 1
        node.generated_tokens += completion.completion_tokens
