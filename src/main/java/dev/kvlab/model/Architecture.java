package dev.kvlab.model;

/** The model families kvlab can run, keyed by the Hugging Face {@code architectures} name. */
public enum Architecture {
    LLAMA("LlamaForCausalLM"),
    GPT2("GPT2LMHeadModel");

    private final String huggingFaceName;

    Architecture(String huggingFaceName) {
        this.huggingFaceName = huggingFaceName;
    }

    public String huggingFaceName() {
        return huggingFaceName;
    }
}
