// hello-cgi: shows the CGI header block. Status, Content-Type and other headers come first, then a
// blank line, then the body. The query string and path arrive as CGI variables.
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  const char *q = getenv("QUERY_STRING");
  const char *p = getenv("PATH_INFO");
  printf("Status: 200 OK\n");
  printf("Content-Type: application/json\n");
  printf("X-Served-By-Function: hello-cgi\n\n");
  printf("{\"hello\":\"world\",\"path\":\"%s\",\"query\":\"%s\"}\n", p ? p : "", q ? q : "");
  return 0;
}
