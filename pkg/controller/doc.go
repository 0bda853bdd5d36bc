// Package controller holds Skiff's control loops, one package each. Every loop is
// written against the API through client-go informers, listers and rate-limited
// workqueues, so it can also run out of process, and has the same shape:
//
//	func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller
//	func (c *Controller) Run(ctx context.Context) error // blocks until ctx ends
//
// New only registers informers and handlers on the shared factory; the caller
// starts the factory after building every controller, then calls Run. Loops must
// not reach into storage or the API server's internals.
//
// What several loops need lives in one place, not in copies: PodFromTemplate
// and Deleted here, and the packages workers (the workqueue's goroutines),
// owners (the index of objects by controller), claim (adopting and
// releasing), expectations (creations and deletions not yet seen), events
// (the event recorder), history (ControllerRevisions) and, for tests only,
// controllertest.
package controller
