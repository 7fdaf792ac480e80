"""The local stand-ins: the local AWS servers, background processes, the Lambda event source
mapping and the stream producer."""
